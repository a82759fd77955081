// What Guacamole framing costs (`--only=guacamole`): one session's stream of
// Guacamole instructions from a guacd-like source to a reading client,
// through
//   binary    wsgate tcp-proxy, the plain binary relay (the floor: no parsing);
//   framing   wsgate tcp-proxy with framing: guacamole (whole instructions per message);
//   handler   wsgate handler: guacamole, guacamole-lite's token (resolver guacamole-lite),
//             the gateway doing the guacd handshake;
//   guac-lite guacamole-lite 1.2.0, the same token and handshake.
// Three streams: ASCII bulk (PNG blobs in base64, as guacd draws), many small
// instructions (mouse, sync), and dense multi-byte text (names), written in
// pieces whose ends fall inside characters. Per run: MiB/s and instructions/s
// (first byte written to last byte read), the gateway process's CPU per MiB,
// and whether the client got the stream byte for byte (internal instructions
// and nop aside). A gateway that crashes or corrupts is reported, not fatal.
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { REPO_ROOT } from './gateways.js';
import { treeCpuSeconds } from './proc-stats.js';
import { MiB, freePort, log, nowNs, sleep } from './util.js';

const BIN = join(REPO_ROOT, 'bin', 'wsgate.js');
const LITE = fileURLToPath(new URL('./guacamole-lite-server.js', import.meta.url));
export const GUAC_SETUPS = ['binary', 'framing', 'handler', 'guac-lite'] as const;
type Setup = (typeof GUAC_SETUPS)[number];

export interface GuacamoleRun {
  stream: string;
  setup: Setup;
  mibPerS: number | null;
  instructionsPerS: number | null;
  cpuMsPerMiB: number | null;
  /** "exact", or what went wrong. */
  result: string;
}

interface Stream {
  name: string;
  bytes: Buffer;
  instructions: number;
  /** Size of each write: odd for the text, so that pieces end inside characters. */
  piece: number;
}

const el = (s: string): string => `${[...s].length}.${s}`;
const ins = (...parts: Array<string | number>): string => parts.map((p) => el(String(p))).join(',') + ';';

function makeStream(name: string, total: number, next: (i: number) => string, piece: number): Stream {
  const parts: string[] = [];
  let size = 0;
  let n = 0;
  while (size < total) {
    const s = next(n++);
    parts.push(s);
    size += Buffer.byteLength(s);
  }
  const bytes = Buffer.from(parts.join(''));
  return { name, bytes, instructions: n, piece };
}

function streams(quick: boolean): Stream[] {
  const scale = quick ? 0.25 : 1;
  const png = randomBytes(4536).toString('base64'); // 6048 characters, as a guacd PNG blob
  const bulk = makeStream('ASCII bulk (6 KiB blobs)', 64 * MiB * scale, (i) => {
    const k = i % 4;
    return k === 0 ? ins('img', 1, 14, 0, 'image/png', (i * 64) % 1024, (i * 48) % 768) : k === 1 ? ins('blob', 1, png) : k === 2 ? ins('end', 1) : ins('sync', 1_700_000_000_000 + i, 0);
  }, 65_536);
  const small = makeStream('small instructions (~22 B)', 8 * MiB * scale, (i) => (i % 8 === 7 ? ins('sync', 1_700_000_000 + i) : ins('mouse', i % 1024, (i * 7) % 768, i % 2)), 65_536);
  const words = ['Grüße', '世界', 'ünïcödé', '€uro', 'naïve', 'Ωμέγα', 'кириллица', 'ascii'];
  const text = makeStream('multi-byte text, split', 16 * MiB * scale, (i) => ins('name', Array.from({ length: 40 }, (_, j) => words[(i + j) % words.length]).join(' ')), 65_521);
  return [bulk, small, text];
}

/**
 * The source: with `handshake`, guacd's side of it (args, then ready after
 * connect), else nothing; then the stream in pieces, then the end.
 */
async function startSource(stream: () => Stream, handshake: boolean, onStart: () => void): Promise<{ port: number; close(): void }> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    const pump = () => {
      const { bytes, piece } = stream();
      onStart();
      let pos = 0;
      const more = () => {
        while (pos < bytes.length) {
          const end = Math.min(pos + piece, bytes.length);
          const ok = sock.write(bytes.subarray(pos, end));
          pos = end;
          if (!ok) return void sock.once('drain', more);
        }
        sock.end();
      };
      more();
    };
    if (!handshake) return pump();
    let got = '';
    let phase: 'select' | 'connect' = 'select';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (phase === 'select' && got.includes(';')) {
        phase = 'connect';
        got = '';
        sock.write(ins('args', 'VERSION_1_5_0', 'hostname', 'port', 'password'));
      }
      if (phase === 'connect' && /(^|;)7\.connect,[^;]*;/.test(got)) {
        sock.off('data', onData);
        sock.on('data', () => {}); // the client's later instructions (none here)
        sock.write(ins('ready', `$${randomUUID()}`));
        pump();
      }
    };
    sock.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** guacamole-lite's token: base64(JSON {iv, value}), value AES-256-CBC of the connection JSON. */
function liteToken(key: string): string {
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', Buffer.from(key), iv);
  const conn = { connection: { type: 'vnc', settings: { hostname: 'desk.lan', port: '5900', password: 'pw', width: 1024, height: 768, dpi: 96 } } };
  const value = c.update(JSON.stringify(conn), 'utf8', 'base64') + c.final('base64');
  return Buffer.from(JSON.stringify({ iv: iv.toString('base64'), value })).toString('base64');
}

interface Gateway {
  child: ChildProcess;
  port: number;
  output(): string;
  exited(): string | null;
  stop(): Promise<void>;
}

async function startProcess(args: string[], port: number): Promise<Gateway> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => void (out = (out + d.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: string | null = null;
  const exit = new Promise<void>((r) => child.once('exit', (code, sig) => ((exited = `exited (${sig ?? code})`), r())));
  const gw: Gateway = {
    child,
    port,
    output: () => out,
    exited: () => exited,
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      await Promise.race([exit, sleep(2000)]);
      if (!exited) child.kill('SIGKILL');
      await Promise.race([exit, sleep(1000)]);
    },
  };
  const deadline = Date.now() + 15_000;
  while (!exited && Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) return gw;
    await sleep(50);
  }
  await gw.stop();
  throw new Error(`did not listen: ${exited ?? 'timeout'}: ${out.trim().split('\n').slice(-3).join(' | ')}`);
}

/** Reads one session; strips the leading internal instructions (the tunnel UUID, guacamole-lite's connection id) and nop. */
function readSession(url: string, protocol: string | undefined, expected: Stream, timeoutMs: number): Promise<{ bytes: number; same: boolean; doneAt: bigint | null; close: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocol ? [protocol] : [], { perMessageDeflate: false, maxPayload: 256 * MiB });
    // Compared with what was sent as it arrives (memcmp: hashing would cost the harness, on the same cores, more than the gateways).
    let same = true;
    let bytes = 0;
    let leading = true;
    let doneAt: bigint | null = null;
    const timer = setTimeout(() => ws.terminate(), timeoutMs);
    ws.on('message', (data: Buffer) => {
      let d = data;
      if (d.length === 6 && d.toString() === '3.nop;') return;
      while (leading && d.length >= 3 && d[0] === 0x30 && d[1] === 0x2e && d[2] === 0x2c) {
        // 0.,L.<value>; with an ASCII value
        const dot = d.indexOf(0x2e, 3);
        const len = Number(d.subarray(3, dot).toString());
        d = d.subarray(dot + 1 + len + 1);
      }
      if (d.length === 0) return;
      leading = false;
      if (same && !d.equals(expected.bytes.subarray(bytes, bytes + d.length))) same = false;
      bytes += d.length;
      if (bytes >= expected.bytes.length && doneAt === null) doneAt = nowNs();
    });
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ bytes, same, doneAt, close: `${code}${reason.length ? ` ${reason.toString()}` : ''}` });
    });
  });
}

async function runOne(setup: Setup, stream: Stream, dir: string, key: string): Promise<GuacamoleRun> {
  const row: GuacamoleRun = { stream: stream.name, setup, mibPerS: null, instructionsPerS: null, cpuMsPerMiB: null, result: '' };
  let startedAt: bigint | null = null;
  const source = await startSource(() => stream, setup === 'handler' || setup === 'guac-lite', () => (startedAt = nowNs()));
  const port = await freePort();
  let gw: Gateway | null = null;
  try {
    const token = encodeURIComponent(liteToken(key));
    let url: string;
    let protocol: string | undefined = 'guacamole';
    if (setup === 'guac-lite') {
      gw = await startProcess([LITE, String(port), String(source.port), key], port);
      url = `ws://127.0.0.1:${port}/?token=${token}`;
    } else {
      const config = join(dir, `${setup}.yaml`);
      const route =
        setup === 'handler'
          ? `handler: guacamole\n    guacd: 127.0.0.1:${source.port}\n    resolver: { type: guacamole-lite, keyFile: ${join(dir, 'key')} }\n    backendIdleTimeout: 60`
          : `handler: tcp-proxy\n    target: 127.0.0.1:${source.port}${setup === 'framing' ? '\n    framing: guacamole' : ''}`;
      writeFileSync(config, `listen: 127.0.0.1:${port}\nroutes:\n  - path: /\n    ${route}\n`);
      gw = await startProcess([BIN, '--config', config, '--log-level', 'warn'], port);
      url = setup === 'handler' ? `ws://127.0.0.1:${port}/?token=${token}` : `ws://127.0.0.1:${port}/`;
      if (setup === 'binary') protocol = undefined;
    }
    const cpu0 = treeCpuSeconds(gw.child.pid!);
    const got = await readSession(url, protocol, stream, 120_000);
    const cpu = treeCpuSeconds(gw.child.pid!) - cpu0;
    const mib = stream.bytes.length / MiB;
    const exact = got.bytes === stream.bytes.length && got.same;
    if (got.doneAt !== null && startedAt !== null) {
      const s = Number(got.doneAt - startedAt) / 1e9;
      row.mibPerS = mib / s;
      row.instructionsPerS = stream.instructions / s;
      row.cpuMsPerMiB = (cpu * 1000) / mib;
    }
    await sleep(100);
    const died = gw.exited();
    if (exact) row.result = 'exact';
    else {
      const why = died ? `crashed (${died}: ${lastError(gw.output())})` : got.bytes === stream.bytes.length ? 'corrupted (same length, other bytes)' : `corrupted or cut: ${got.bytes} of ${stream.bytes.length} bytes, close ${got.close}`;
      row.result = why;
      // Wrong bytes make the rate meaningless.
      if (!died && got.bytes !== stream.bytes.length) row.mibPerS = row.instructionsPerS = null;
    }
  } catch (e) {
    row.result = `error: ${(e as Error).message}`;
  } finally {
    await gw?.stop();
    source.close();
  }
  log(`guacamole ${setup} / ${stream.name}: ${row.mibPerS?.toFixed(1) ?? '-'} MiB/s, ${row.cpuMsPerMiB?.toFixed(1) ?? '-'} ms CPU/MiB, ${row.result}`);
  return row;
}

/** The first line of the output that looks like the error, shortened. */
function lastError(out: string): string {
  const lines = out.split('\n');
  const line = lines.find((l) => /^\s*\w*Error: /.test(l)) ?? lines.find((l) => /error/i.test(l)) ?? out.trim().split('\n').at(-1) ?? '';
  return line.trim().slice(0, 120);
}

export async function guacamoleRates(quick: boolean, rounds: number): Promise<GuacamoleRun[][]> {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-guac-'));
  const key = randomBytes(16).toString('hex'); // 32 characters
  writeFileSync(join(dir, 'key'), key);
  const all: GuacamoleRun[][] = [];
  try {
    const list = streams(quick);
    for (let round = 0; round < rounds; round++) {
      const runs: GuacamoleRun[] = [];
      for (const stream of list) for (const setup of GUAC_SETUPS) runs.push(await runOne(setup, stream, dir, key));
      all.push(runs);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return all;
}

export function renderGuacamoleRates(rounds: GuacamoleRun[][]): string {
  const med = (xs: Array<number | null>): number | null => {
    const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)]! : null;
  };
  const f = (x: number | null, d: number) => (x === null ? '–' : x.toFixed(d));
  const lines = ['', `Guacamole: one session, source -> gateway -> client (${rounds.length} round${rounds.length > 1 ? 's' : ''}, medians)`, '', '| stream | setup | MiB/s | instructions/s | CPU ms/MiB | result |', '| --- | --- | --- | --- | --- | --- |'];
  for (const [i, first] of rounds[0]!.entries()) {
    const same = rounds.map((r) => r[i]!);
    const results = [...new Set(same.map((r) => r.result))].join('; ');
    lines.push(`| ${first.stream} | ${first.setup} | ${f(med(same.map((r) => r.mibPerS)), 1)} | ${f(med(same.map((r) => r.instructionsPerS)), 0)} | ${f(med(same.map((r) => r.cpuMsPerMiB)), 1)} | ${results} |`);
  }
  return lines.join('\n') + '\n';
}
