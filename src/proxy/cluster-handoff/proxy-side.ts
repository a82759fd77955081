// The cluster proxy's half of the hand-off, without sockets: make the
// greeting, then judge the document that answers it. Replay protection
// comes from the nonce: the proxy makes a fresh one for every connection and
// only accepts a document signed over the nonce it sent on that very
// connection, so it needs no memory of nonces seen before. Version 2's
// timestamp bounds how old a document may be on top of that.
import { randomBytes } from 'node:crypto';
import { encodeFrame, HandoffError, PROXY_MAGIC, type Frame } from './frame.js';
import type { Secret } from './secret.js';
import { parseV1Document, v1Nonce, verifyV1, type Params } from './v1.js';
import { MacError, RESULT, verifyV2Document, type ResultStatus } from './v2.js';

/** 32 random bytes as 64 lowercase hex digits: text without whitespace for version 1, 256 bits for version 2. */
export function newNonce(): Buffer {
  return Buffer.from(randomBytes(32).toString('hex'), 'ascii');
}

/**
 * The greeting carries the lowest version this proxy accepts: a version 1
 * gateway (which requires 1) is served whenever the proxy takes version 1,
 * and a proxy that takes only version 2 says so to any version 1 gateway.
 */
export function encodeGreeting(versions: readonly number[], nonce: Buffer): Buffer {
  return encodeFrame(PROXY_MAGIC, Math.min(...versions), nonce);
}

/** A document this proxy refuses; `status` is what a version 2 result frame says. */
export class HandoffRefusal extends HandoffError {
  constructor(
    readonly status: Exclude<ResultStatus, 0>,
    message: string,
  ) {
    super(message);
  }
}

export interface Verified {
  version: 1 | 2;
  key: string;
  params: Params;
}

export interface VerifyOptions {
  secret: Secret;
  /** Version 2: how far (ms) the document's timestamp may be from this clock, either way. */
  maxSkewMs: number;
  now?: () => number;
}

/** Checks a document frame against the nonce sent on this connection; throws a HandoffRefusal saying why. */
export function verifyDocument(frame: Frame, nonce: Buffer, opts: VerifyOptions): Verified {
  if (frame.version === 1) {
    let doc;
    try {
      doc = parseV1Document(frame.payload);
    } catch (e) {
      throw new HandoffRefusal(RESULT.malformed, (e as Error).message);
    }
    if (!verifyV1(doc, opts.secret, v1Nonce(nonce))) throw new HandoffRefusal(RESULT.unauthorised, 'document: hash mismatch (wrong secret, altered document or another nonce)');
    return { version: 1, key: doc.key, params: doc.params };
  }
  let doc;
  try {
    doc = verifyV2Document(frame.payload, opts.secret, nonce);
  } catch (e) {
    throw new HandoffRefusal(e instanceof MacError ? RESULT.unauthorised : RESULT.malformed, (e as Error).message);
  }
  const now = (opts.now ?? Date.now)();
  const skewMs = doc.timestamp * 1000 - now;
  if (Math.abs(skewMs) > opts.maxSkewMs) {
    throw new HandoffRefusal(RESULT.unauthorised, `document: timestamp ${doc.timestamp} is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs < 0 ? 'old' : 'ahead'} (at most ${opts.maxSkewMs / 1000} s either way)`);
  }
  return { version: 2, key: doc.key, params: doc.params };
}
