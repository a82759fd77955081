// Moves bytes between an open Session and a connected backend socket, both
// ways, with backpressure on each side and an orderly teardown:
//   backend EOF   -> everything already read is sent, then close 1000
//   backend error -> close 1011 after what was already queued
//   client close  -> the backend gets every byte received, then FIN
// The relay reads the backend itself; the client's side reaches it through
// the handler (tcp-proxy's message() and close() hooks, called by the
// handler runtime): it listens to the Session only for 'drain'.
import type { Socket } from 'node:net';
import type { Session } from '../session/session.js';
import type { BackendReader } from './backend-reader.js';
import type { Logger } from '../observability/logger.js';
import { decodeBase64, type Encoding } from './codec.js';
import type { Recorder } from './recording/recorder.js';

export interface RelayOptions {
  encoding: Encoding;
  /** After the session ends, how long the backend may take to finish before it is destroyed. */
  closeTimeoutMs: number;
  log: Logger;
  /** Log every backend chunk (websockify --traffic; the runtime logs the client's messages). */
  traffic: boolean;
  /** The session's recording, if the route records: it sees each chunk as it passes, both ways. */
  recorder?: Recorder | null;
}

/** The client's side of a relay, driven by the handler's hooks. */
export interface Relay {
  /** One message from the client: to the backend, decoded (`isBinary` matters to text protocols such as Guacamole's). */
  fromClient(data: Buffer, isBinary: boolean): void;
  /** The session has ended: the backend gets what was written, then FIN. */
  clientClosed(): void;
}

export function relay(session: Session, backend: Socket, reader: BackendReader, opts: RelayOptions, earlyError: NodeJS.ErrnoException | null = null): Relay {
  // Taken apart so the closures below (which live as long as the session) do not keep `opts`.
  const { traffic, log, closeTimeoutMs } = opts;
  const recorder = opts.recorder ?? null;
  const base64 = opts.encoding === 'base64';
  let backendPaused = false;
  let clientPaused = false;
  let backendError: NodeJS.ErrnoException | null = earlyError;

  const resumeBackend = () => {
    backendPaused = false;
    reader.unhold();
  };
  reader.attach((chunk, release) => {
    if (traffic) log.trace({ sid: session.id, dir: 'backend>client', bytes: chunk.length }, 'traffic');
    if (!session.isOpen) {
      release?.(); // closing: the client will not get more
      return;
    }
    recorder?.toClient(chunk);
    let below: boolean;
    if (base64) {
      below = session.send(chunk.toString('base64'), false);
      release?.();
    } else {
      // A lent chunk is the reader's buffer: it is reused once the frame is written.
      below = release ? session.send(chunk, true, release) : session.send(chunk, true);
    }
    if (!below && !backendPaused) {
      backendPaused = true;
      reader.hold();
      session.once('drain', resumeBackend);
    }
  });

  // One permanent listener rather than once() per pause: a bulk upload pauses
  // at nearly every message (the socket's 16 KiB write mark), and once() costs
  // a wrapper, a bound function and a removeListener each time.
  backend.on('drain', () => {
    if (!clientPaused) return;
    clientPaused = false;
    session.resumeReading();
  });
  const fromClient = (data: Buffer) => {
    const bytes = base64 ? decodeBase64(data) : data;
    if (!bytes) {
      session.close(1007, 'invalid base64 payload');
      return;
    }
    if (backend.destroyed || backend.writableEnded) return;
    recorder?.fromClient(bytes);
    if (!backend.write(bytes) && !clientPaused) {
      clientPaused = true;
      session.pauseReading();
    }
  };

  backend.on('end', () => session.close(1000, 'backend closed the connection'));
  backend.on('error', (err: NodeJS.ErrnoException) => {
    backendError = err;
  });
  const backendGone = () => {
    if (backendError) session.close(1011, `backend error: ${backendError.code ?? backendError.message}`);
    else session.close(1000, 'backend closed the connection');
  };
  backend.on('close', backendGone);
  // It may already be gone: it failed or closed between the dial and the 101.
  if (backend.destroyed) backendGone();

  const clientClosed = () => {
    recorder?.end();
    if (backendPaused) session.removeListener('drain', resumeBackend);
    reader.unhold();
    if (backend.destroyed) return;
    backend.end(); // after every byte already written
    const timer = setTimeout(() => backend.destroy(), closeTimeoutMs);
    timer.unref();
    backend.once('close', () => clearTimeout(timer));
    // Read (and drop) until the backend closes its side; lent chunks were released by the session.
  };

  return { fromClient, clientClosed };
}
