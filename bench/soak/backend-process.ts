// The soak backend in a process of its own. In the harness process, whose
// event loop also runs a thousand clients, a busy loop accepts connections
// slowly (libuv takes only a few per wake-up): the gateway's dials sat in the
// backend's accept queue for 5-11 s, longer than the gateway gives a backend
// to take the last bytes after the client has left, and sessions broke
// because of the harness, not the gateway. Its own loop keeps accepts prompt.
// Child usage: spawned by startBackendProcess() with an IPC channel; a lost
// channel (the harness died) ends it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { SoakBackend, type BackendRecord } from './backend.js';
import type { SessionPlan } from './plan.js';
import { PrefixCheck } from './streams.js';

type WireRecord = Omit<BackendRecord, 'up'> & { up: { bytes: number; firstBad: number | undefined; badSample: string | undefined } };
type ToChild = { t: 'plans'; plans: SessionPlan[] } | { t: 'open' } | { t: 'report' };
type FromChild =
  | { t: 'port'; port: number }
  | { t: 'open'; open: number }
  | { t: 'report'; records: Array<[number, WireRecord]>; problems: string[] };

export interface BackendReport {
  records: Map<number, BackendRecord>;
  problems: string[];
}

const SELF = fileURLToPath(import.meta.url);

export class BackendProcess {
  readonly #waiting = new Map<string, Array<(m: FromChild) => void>>();
  readonly #exited: Promise<unknown>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly plans: SessionPlan[],
  ) {
    this.#exited = once(child, 'exit');
    child.on('message', (m: FromChild) => this.#waiting.get(m.t)?.shift()?.(m));
  }

  static async start(plans: SessionPlan[]): Promise<BackendProcess> {
    const child = spawn(process.execPath, [SELF], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = new Promise<number>((resolve, reject) => {
      child.once('message', (m: FromChild) => (m.t === 'port' ? resolve(m.port) : reject(new Error(`soak backend: ${m.t}`))));
      child.once('exit', (code) => reject(new Error(`soak backend exited (${code}) before listening`)));
    });
    child.send({ t: 'plans', plans } satisfies ToChild);
    return new BackendProcess(child, await port, plans);
  }

  #ask<T extends FromChild['t']>(question: ToChild, answer: T): Promise<Extract<FromChild, { t: T }>> {
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error('the soak backend has exited'));
      const list = this.#waiting.get(answer) ?? [];
      this.#waiting.set(answer, list);
      list.push((m) => resolve(m as Extract<FromChild, { t: T }>));
      this.child.send(question);
    });
  }

  /** Sockets still open (the gateway should close each one after its session). */
  async open(): Promise<number> {
    return (await this.#ask({ t: 'open' }, 'open')).open;
  }

  async report(): Promise<BackendReport> {
    const r = await this.#ask({ t: 'report' }, 'report');
    const records = new Map<number, BackendRecord>();
    for (const [id, w] of r.records) {
      const up = Object.assign(new PrefixCheck(id, 'up', this.plans[id]!.up), {
        bytes: w.up.bytes,
        firstBad: w.up.firstBad,
        badSample: w.up.badSample === undefined ? undefined : Buffer.from(w.up.badSample, 'hex'),
      });
      records.set(id, { ...w, up });
    }
    return { records, problems: r.problems };
  }

  async close(): Promise<void> {
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.#exited;
    clearTimeout(t);
  }
}

function childMain(): void {
  const send = (m: FromChild): void => void process.send?.(m);
  let backend: SoakBackend | undefined;
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.on('message', async (m: ToChild) => {
    if (m.t === 'plans') {
      backend = await SoakBackend.start(m.plans);
      send({ t: 'port', port: backend.port });
    } else if (m.t === 'open') {
      send({ t: 'open', open: backend!.open });
    } else {
      const records = [...backend!.records].map(([id, rec]): [number, WireRecord] => [
        id,
        { ...rec, up: { bytes: rec.up.bytes, firstBad: rec.up.firstBad, badSample: rec.up.badSample?.toString('hex') } },
      ]);
      send({ t: 'report', records, problems: backend!.problems });
    }
  });
}

if (process.argv[1] === SELF) childMain();
