// The gateway under soak: the real CLI (bin/wsgate.js) run from a config
// file, its JSON log read line by line (the soak matches "session open",
// "session closed" and "handshake refused" lines to sessions by the client's
// address), its /healthz, and the memory and descriptors of its processes
// (the primary and, with --workers, every worker).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processTree } from '../proc-stats.js';
import { killOnExit, removeOnExit } from './children.js';

const BIN = fileURLToPath(new URL('../../../bin/wsgate.js', import.meta.url));

/** The fields of the log lines the soak reads. */
export interface LogLine {
  msg: string;
  level: number;
  remote?: string;
  path?: string;
  code?: number;
  reason?: string;
  closedBy?: string;
  status?: number;
  bytesIn?: number;
  bytesOut?: number;
  address?: { port: number };
}

export interface SessionLines {
  open: LogLine[];
  closed: LogLine[];
  refused: LogLine[];
}

export interface GatewayOptions {
  /** The config file's content (written to a temporary file). */
  config: Record<string, unknown>;
  /** Runs the gateway under `prlimit --nofile=N:N`. */
  nofile?: number;
  /** With --workers: wait until this many workers are ready. */
  workers?: number;
}

export interface Health {
  status: number;
  body: { status?: string; sessions?: number; workers?: Array<{ pid: number; sessions: number }> } | undefined;
}

export class SoakGateway {
  /** Lines about sessions, by the client's address. */
  readonly byRemote = new Map<string, SessionLines>();
  /** Lines at level error or worse (pino: 50+). */
  readonly errors: LogLine[] = [];
  /** From the "listening" line (the config asks for port 0). */
  port = 0;
  #partial = '';
  readonly #exit: Promise<void>;
  #exited = false;

  private constructor(
    readonly child: ChildProcess,
    private readonly configFolder: { done(): void },
  ) {
    this.#exit = new Promise((r) => child.once('exit', () => r()));
    void this.#exit.then(() => (this.#exited = true));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.#read(d));
    child.stderr!.resume();
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  static async start(o: GatewayOptions): Promise<SoakGateway> {
    // The file stays while the gateway runs: every --workers worker (and a replacement) reads it.
    const dirPath = mkdtempSync(path.join(os.tmpdir(), 'wsgate-soak-'));
    const dir = removeOnExit(dirPath);
    const file = path.join(dirPath, 'soak.yaml');
    writeFileSync(file, JSON.stringify(o.config, null, 2)); // JSON is YAML
    const node = [process.execPath, BIN, '--config', file];
    const [cmd, ...args] = o.nofile ? ['prlimit', `--nofile=${o.nofile}:${o.nofile}`, ...node] : node;
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child); // its --workers workers stop when it is gone
    const gw = new SoakGateway(child, dir);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const deadline = Date.now() + 20_000;
    while (!gw.port) {
      if (gw.#exited || Date.now() > deadline) {
        const why = gw.#exited ? 'exited' : 'no "listening" line (at log level info) in 20 s';
        await gw.stop();
        throw new Error(`wsgate did not start (${why}): ${stderr.trim()}`);
      }
      await sleep(20);
    }
    if (o.workers) {
      while ((await gw.health().catch(() => undefined))?.body?.workers?.length !== o.workers) {
        if (gw.#exited || Date.now() > deadline) {
          await gw.stop();
          throw new Error(`wsgate's ${o.workers} workers were not ready within 20 s: ${stderr.trim()}`);
        }
        await sleep(50);
      }
    }
    return gw;
  }

  #read(d: string): void {
    const lines = (this.#partial + d).split('\n');
    this.#partial = lines.pop()!;
    for (const text of lines) {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      if (line.msg === 'listening' && line.address) this.port ||= line.address.port;
      if (line.level >= 50) this.errors.push(line);
      const kind = line.msg === 'session open' ? 'open' : line.msg === 'session closed' ? 'closed' : line.msg === 'handshake refused' ? 'refused' : undefined;
      if (!kind || !line.remote) continue;
      let s = this.byRemote.get(line.remote);
      if (!s) this.byRemote.set(line.remote, (s = { open: [], closed: [], refused: [] }));
      s[kind].push(line);
    }
  }

  /** Counts of session lines over every client. */
  lineCounts(): { open: number; closed: number; refused: number } {
    const c = { open: 0, closed: 0, refused: 0 };
    for (const s of this.byRemote.values()) {
      c.open += s.open.length;
      c.closed += s.closed.length;
      c.refused += s.refused.length;
    }
    return c;
  }

  /** The primary and every live descendant (the --workers workers). */
  pids(): number[] {
    return this.#exited ? [] : processTree(this.pid);
  }

  /** Resident memory of every gateway process together. */
  rssKiB(): number {
    let kib = 0;
    for (const pid of this.pids()) {
      try {
        kib += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      } catch {
        /* exited meanwhile */
      }
    }
    return kib;
  }

  /** Open descriptors of every gateway process together. */
  fds(): number {
    let n = 0;
    for (const pid of this.pids()) {
      try {
        n += readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        /* exited meanwhile */
      }
    }
    return n;
  }

  /** GET /healthz on a fresh connection; rejects when there is no answer within `timeoutMs`. */
  health(timeoutMs = 3000): Promise<Health> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: this.port, path: '/healthz', agent: false, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          let parsed: Health['body'];
          try {
            parsed = JSON.parse(body) as Health['body'];
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no /healthz answer in ${timeoutMs} ms`)));
      req.on('error', reject);
    });
  }

  /** SIGTERM, then SIGKILL for whatever is left after 5 s; removes the config file. */
  async stop(): Promise<void> {
    const pids = this.pids();
    if (!this.#exited) this.child.kill('SIGTERM');
    await Promise.race([this.#exit, sleep(5000)]);
    // What is left of the processes it started (workers outliving their primary); a pid is
    // checked to still run this gateway's command line, so a reused pid is never hit.
    for (const pid of pids) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(BIN)) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.race([this.#exit, sleep(1000)]);
    this.configFolder.done();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
