// What travels on a session's worker channel (a MessagePort), both ways.
// Shared by the main-thread bridge (src/worker/bridge.ts) and the
// worker-side client (src/worker/connect.ts).
//
// Worker -> main: batches (arrays) of ops, applied in order on the main
// thread, one batch per postMessage. Main -> worker: the opening grant,
// credit returns, and the news that the session can take nothing more.

/** A binary payload as it crosses threads (a Buffer arrives as a Uint8Array). */
export type WirePayload = string | Uint8Array;

export type WorkerOp =
  | { t: 'send'; d: WirePayload; b: boolean }
  | { t: 'begin'; s: number; b: boolean }
  | { t: 'write'; s: number; d: WirePayload }
  | { t: 'end'; s: number; d?: WirePayload }
  | { t: 'close'; code: number; reason: string }
  /** The producer is done: everything before this op was its last word. */
  | { t: 'done'; closed: boolean }
  /** The producer failed; the session is closed with 1011 (reason logged). */
  | { t: 'fail'; message: string };

export type MainMessage =
  /** The first message: the session and the producer's credit window, granted in full. */
  | { t: 'open'; sessionId: string; window: number }
  /** Bytes the main thread has passed on and may be sent again. */
  | { t: 'credit'; n: number }
  /** The session is closing or closed: every further send rejects. */
  | { t: 'closed'; code: number; reason: string };

/** Bytes a payload counts against the credit window (UTF-8 length for text). */
export function payloadSize(d: WirePayload | undefined): number {
  if (d === undefined) return 0;
  return typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength;
}
