// What each soak session does: how many bytes each way and which fault, if
// any, it meets. Everything comes from one seed, so a failing session can be
// replayed (same id, same seed: same sizes, same fault, same offsets).
import { between, prng, MAX_STREAM } from './streams.js';

export const FAULTS = [
  /** No fault: both streams complete, the client closes with 1000. */
  'none',
  /** The backend resets (RST) after sending `faultAt` bytes. */
  'backend-reset',
  /** The client drops its TCP connection with RST after sending `faultAt` bytes. */
  'client-reset',
  /**
   * The client stops reading for longer than the close timeout; the backend
   * sends everything (from `faultAt` on in a slow trickle) and half-closes
   * meanwhile, so part of the stream waits in the gateway. Nothing may be
   * lost: a slow reader is backpressure, not a reason to drop queued data.
   */
  'client-stall',
  /** The backend end()s right after its data, without waiting for the client's. */
  'backend-half-close',
  /** The client sends all its data, then closes at once, not waiting for the backend's. */
  'client-close-after-sending',
  /** The route's target is a port nobody listens on: HTTP 502 before any 101. */
  'backend-refused',
  /** The route's target accepts no connection (SYNs dropped): HTTP 504 after the connect timeout. */
  'backend-hang',
] as const;
export type Fault = (typeof FAULTS)[number];

/** Faults that happen while relaying (the others refuse the handshake). */
export const isRefusal = (f: Fault): boolean => f === 'backend-refused' || f === 'backend-hang';

export interface SessionPlan {
  id: number;
  fault: Fault;
  /** Client-to-backend bytes (after the id header). */
  up: number;
  /** Backend-to-client bytes. */
  down: number;
  /** For the reset faults: bytes of the resetting side's stream sent before the reset; for client-stall: where the trickle starts. */
  faultAt: number;
  /** Seed for chunk sizes and delays inside the session. */
  seed: number;
}

export interface PlanOptions {
  sessions: number;
  seed: number;
  /** Largest stream either way (at most MAX_STREAM). */
  maxBytes: number;
  /** Share of sessions with a fault (spread over the faults evenly). */
  faultShare: number;
  /** What loopback buffers hold for a reader that does not read (loopbackBufferBytes()). */
  socketBuffers: number;
  /** Only these faults (to replay one kind); all of them by default. */
  faults?: readonly Fault[];
}

/** Random stream sizes: some empty, most small (terminal-like), some bulk (screen updates). */
function size(rand: () => number, max: number): number {
  const r = rand();
  if (r < 0.08) return 0;
  if (r < 0.55) return between(rand, 1, Math.min(max, 16 * 1024));
  return Math.min(max, Math.floor(2 ** (rand() * Math.log2(max))));
}

export function makePlans(o: PlanOptions): SessionPlan[] {
  if (o.maxBytes > MAX_STREAM) throw new RangeError(`maxBytes may be at most ${MAX_STREAM}`);
  const rand = prng(o.seed);
  const faulted = (o.faults ?? FAULTS).filter((f) => f !== 'none');
  return Array.from({ length: o.sessions }, (_, id) => {
    const fault: Fault = rand() < o.faultShare ? faulted[Math.floor(rand() * faulted.length)]! : 'none';
    const up = size(rand, o.maxBytes);
    // To a stalled client, a little more than the socket buffers hold: the rest waits in the
    // gateway (below its 1 MiB high-water mark, so the backend's FIN still gets through).
    // The last 512 KiB + the excess come as a trickle of small writes, which the gateway reads
    // one by one into copies: a read into one of its own bulk buffers would wait for the client
    // before the next read, and the FIN would not get through while the client stalls.
    const buffers = Math.min(MAX_STREAM - (1 << 20), o.socketBuffers);
    const down = fault === 'client-stall' ? between(rand, buffers, buffers + (1 << 20)) : size(rand, o.maxBytes);
    const resetSide = fault === 'client-reset' ? up : down;
    const faultAt = fault === 'client-stall' ? Math.max(0, buffers - (512 << 10)) : between(rand, 0, resetSide);
    return { id, fault, up, down, faultAt, seed: Math.floor(rand() * 2 ** 31) };
  });
}

/**
 * A loopback address of its own per session (127.x.y.z), so the gateway's
 * log lines, which name the client's address but never the token or query,
 * can be matched to the session that caused them.
 */
export function clientAddress(id: number): string {
  return `127.${10 + Math.floor(id / 62_500)}.${1 + (Math.floor(id / 250) % 250)}.${1 + (id % 250)}`;
}
