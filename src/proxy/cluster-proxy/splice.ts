// Joins two TCP sockets once the hand-off is done: bytes flow both ways
// unchanged, each direction paused while the other side's send buffer is
// full (pipe()'s backpressure), and a FIN from one side is passed on as a
// FIN to the other (both sockets allow half-open), so a side may keep
// sending after the other has finished. An error on either side ends both.
import type { Socket } from 'node:net';

export interface SpliceEnd {
  /** Bytes the gateway sent on to the node, and the node's bytes sent back. */
  toNode: number;
  fromNode: number;
  /** The first socket error, if any (then both were destroyed). */
  error?: { side: 'gateway' | 'node'; code: string };
}

export function splice(gateway: Socket, node: Socket, onEnd: (end: SpliceEnd) => void): void {
  let error: SpliceEnd['error'];
  let open = 2;
  const closed = () => {
    if (--open > 0) return;
    onEnd({ toNode: node.bytesWritten, fromNode: node.bytesRead, ...(error ? { error } : {}) });
  };
  const failed = (side: 'gateway' | 'node') => (err: NodeJS.ErrnoException) => {
    error ??= { side, code: err.code ?? err.message };
    gateway.destroy();
    node.destroy();
  };
  gateway.on('error', failed('gateway'));
  node.on('error', failed('node'));
  gateway.once('close', closed);
  node.once('close', closed);
  // One side is gone for good: what the other still has to write is flushed,
  // what it would still read has nowhere to go.
  gateway.once('close', () => finishThenDestroy(node));
  node.once('close', () => finishThenDestroy(gateway));
  gateway.pipe(node);
  node.pipe(gateway);
}

/** How long a side may take to take in what is left for it once the other side is gone. */
const FLUSH_TIMEOUT_MS = 5000;

function finishThenDestroy(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableFinished) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), FLUSH_TIMEOUT_MS).unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('finish', () => socket.destroy());
  socket.end();
}
