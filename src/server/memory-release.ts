// Gives memory back after load. The buffers that busy sessions used (socket
// reads, frames) become garbage when the sessions end, but V8 collects only
// when JavaScript allocates again, and a quiet gateway does not: measured,
// 1,000 sessions of 1 MiB each way left 296 MiB of dead ArrayBuffers and
// 594 MiB RSS for as long as the gateway stayed quiet. So a few seconds after
// sessions end, if the buffers outside the JS heap are far more than the live
// sessions can be holding, one full collection runs; while the buffers are
// still held (a backend socket drains for up to its close timeout after its
// session), it tries again a few times. No timer at all while nothing ends; a
// collection of a quiet heap takes a few ms. Whether the freed memory leaves the process is then up to malloc: see
// the README's "Memory after load" for the glibc settings that let it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Wait this long after a session ends, so that a burst that is still ending is collected once. */
const SETTLE_MS = 5_000;
/** Another try after this, while the buffers are still held; at most this many tries after a session ends. */
const RETRY_MS = 10_000;
const MAX_TRIES = 3;
/** Not worth a collection below this much of buffers outside the JS heap. */
const MIN_EXTERNAL_BYTES = 32 * 1024 * 1024;
/** What a live session may fairly hold outside the heap (a queue at the default high-water mark, a read, a message). */
const PER_SESSION_BYTES = 2 * 1024 * 1024;

interface Counted {
  readonly size: number;
  on(event: 'ended', listener: () => void): unknown;
}

/** V8's gc(), made callable without --expose-gc on the command line. */
function fullCollection(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export class MemoryRelease {
  #timer: NodeJS.Timeout | null = null;
  #tries = 0;
  #collect: (() => void) | null = null;
  readonly #sessions: Counted;

  constructor(sessions: Counted) {
    this.#sessions = sessions;
    sessions.on('ended', () => {
      this.#tries = 0;
      this.#arm(SETTLE_MS);
    });
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #arm(ms: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.#release(), ms);
    this.#timer.unref();
  }

  /** Far more buffers outside the heap than the live sessions can be holding. */
  #worthIt(): boolean {
    const { external } = process.memoryUsage();
    return external >= MIN_EXTERNAL_BYTES && external >= this.#sessions.size * PER_SESSION_BYTES;
  }

  #release(): void {
    this.#timer = null;
    if (!this.#worthIt()) return;
    this.#collect ??= fullCollection();
    this.#collect();
    if (++this.#tries < MAX_TRIES && this.#worthIt()) this.#arm(RETRY_MS);
  }
}
