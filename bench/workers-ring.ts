// Is a shared-memory ring buffer worth building for worker -> main-thread
// payloads? Moves `total` bytes from a worker to the main thread in
// `chunk`-byte messages, four ways:
//   post-copy   one postMessage per message (structured clone copies it)
//   post-batch  up to 256 messages / 64 KiB per postMessage (what the worker channel does)
//   post-move   one postMessage per message, its fresh ArrayBuffer transferred (zero-copy)
//   sab-ring    a 4 MiB SharedArrayBuffer ring of length-prefixed records
//               (Atomics.notify / Atomics.waitAsync); the main thread copies each
//               record out, since a Session must own what it sends
// Every way has the same flow control (at most 1 MiB in flight), and the
// main thread touches each message once (counts it), as the bridge would.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const MODES = ['post-copy', 'post-batch', 'post-move', 'sab-ring'] as const;
type Mode = (typeof MODES)[number];
const RING = 4 * 1024 * 1024;
const WINDOW = 1024 * 1024;
/** Int32 slots in the control array. */
const CONSUMED = 0;
const WRITTEN = 1;
/** Node has had Atomics.waitAsync since 16; TypeScript's ES2022 lib does not declare it. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;

interface Job {
  mode: Mode;
  chunk: number;
  count: number;
  ctl: SharedArrayBuffer;
  ring: SharedArrayBuffer;
}

export interface RingRow {
  mode: Mode;
  chunk: number;
  msgsPerSec: number;
  mbPerSec: number;
}

if (!isMainThread && (workerData as { ringBench?: Job })?.ringBench) produce((workerData as { ringBench: Job }).ringBench);

/** Runs every mode for each chunk size; `bytes(chunk)` is how much to move. */
export async function measureRing(chunks: number[], bytes: (chunk: number) => number): Promise<RingRow[]> {
  const rows: RingRow[] = [];
  for (const chunk of chunks) {
    for (const mode of MODES) {
      const count = Math.floor(bytes(chunk) / chunk);
      const seconds = await runOne({ mode, chunk, count, ctl: new SharedArrayBuffer(8), ring: new SharedArrayBuffer(mode === 'sab-ring' ? RING : 4) });
      rows.push({ mode, chunk, msgsPerSec: count / seconds, mbPerSec: (count * chunk) / seconds / 1e6 });
    }
  }
  return rows;
}

async function runOne(job: Job): Promise<number> {
  const ctl = new Int32Array(job.ctl);
  const worker = new Worker(new URL(import.meta.url), { workerData: { ringBench: job } });
  const t0 = process.hrtime.bigint();
  let consumed = 0;
  let messages = 0;
  const ack = () => {
    Atomics.store(ctl, CONSUMED, consumed);
    Atomics.notify(ctl, CONSUMED);
  };
  if (job.mode === 'sab-ring') {
    const ring = new Uint8Array(job.ring);
    const view = new DataView(job.ring);
    let r = 0;
    while (messages < job.count) {
      const w = Atomics.load(ctl, WRITTEN);
      if (w === r) {
        const wait = waitAsync(ctl, WRITTEN, r);
        if (wait.async) await wait.value;
        continue;
      }
      while (r !== w) {
        const len = view.getInt32(r % RING, true);
        const at = (r + 4) % RING;
        const out = Buffer.allocUnsafe(len);
        const first = Math.min(len, RING - at);
        out.set(ring.subarray(at, at + first));
        if (first < len) out.set(ring.subarray(0, len - first), first);
        r += 4 + ((len + 3) & ~3);
        messages++;
      }
      consumed = r;
      ack();
    }
  } else {
    await new Promise<void>((resolve) => {
      worker.on('message', (m: Uint8Array | Uint8Array[]) => {
        for (const one of Array.isArray(m) ? m : [m]) {
          consumed += one.byteLength;
          messages++;
        }
        ack();
        if (messages >= job.count) resolve();
      });
    });
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await worker.terminate();
  return seconds;
}

/** Worker side: sends job.count messages, waiting (synchronously) while 1 MiB is in flight. */
function produce(job: Job): void {
  const ctl = new Int32Array(job.ctl);
  const port = parentPort!;
  const reused = new Uint8Array(job.chunk).fill(7);
  let sent = 0;
  const inFlight = () => sent - Atomics.load(ctl, CONSUMED);
  const room = (need: number, limit: number) => {
    for (let c = Atomics.load(ctl, CONSUMED); sent + need - c > limit; c = Atomics.load(ctl, CONSUMED)) Atomics.wait(ctl, CONSUMED, c);
  };
  if (job.mode === 'sab-ring') {
    const ring = new Uint8Array(job.ring);
    const view = new DataView(job.ring);
    for (let i = 0; i < job.count; i++) {
      const need = 4 + ((job.chunk + 3) & ~3);
      room(need, RING);
      const at = (sent + 4) % RING;
      view.setInt32(sent % RING, job.chunk, true);
      const first = Math.min(job.chunk, RING - at);
      ring.set(reused.subarray(0, first), at);
      if (first < job.chunk) ring.set(reused.subarray(first), 0);
      sent += need;
      Atomics.store(ctl, WRITTEN, sent);
      Atomics.notify(ctl, WRITTEN);
    }
    return;
  }
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  for (let i = 0; i < job.count; i++) {
    room(job.chunk, WINDOW);
    sent += job.chunk;
    if (job.mode === 'post-copy') port.postMessage(reused);
    else if (job.mode === 'post-move') {
      const fresh = new Uint8Array(job.chunk).fill(7);
      port.postMessage(fresh, [fresh.buffer]);
    } else {
      batch.push(reused.slice());
      batchBytes += job.chunk;
      if (batch.length >= 256 || batchBytes >= 64 * 1024 || i === job.count - 1 || inFlight() + job.chunk > WINDOW) {
        port.postMessage(batch);
        batch = [];
        batchBytes = 0;
      }
    }
  }
}
