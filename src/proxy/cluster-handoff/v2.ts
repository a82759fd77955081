// Version 2 of the hand-off: the framing of version 1, a binary,
// length-prefixed document and an HMAC-SHA-256 keyed with the secret
// (docs/cluster-handoff.md is the specification). Binary because every
// field then has exactly one encoding: no escaping, no whitespace rules, no
// parser that two sides could read differently; and the MAC is computed over
// the very bytes that are sent and parsed, so what is verified is what is used.
//
// Document payload:  timestamp u64 | keyLen u16 | key | count u16 |
//                    count x (nameLen u16 | name | valueLen u16 | value) | mac[32]
// MAC = HMAC-SHA-256(secret, LABEL | nonceLen u16 | nonce | header | payload without mac)
// Result payload:    status u8 | reason (UTF-8)
import { createHmac, timingSafeEqual } from 'node:crypto';
import { encodeFrame, GATEWAY_MAGIC, HandoffError, HEADER_SIZE, MAX_PAYLOAD, PROXY_MAGIC } from './frame.js';
import type { Params } from './v1.js';
import type { Secret } from './secret.js';

export const LABEL = Buffer.from('wsgate-cluster-handoff-v2', 'ascii');
export const MAC_SIZE = 32;
/** A version 2 greeting must carry at least this many nonce bytes. */
export const MIN_NONCE = 16;

export interface V2Document {
  /** Seconds since the Unix epoch when the gateway wrote the document. */
  timestamp: number;
  key: string;
  params: Params;
}

/** The result a version 2 cluster proxy sends after the document: 0 = relaying to the node from here on. */
export const RESULT = { ok: 0, unauthorised: 1, forbidden: 2, unreachable: 3, malformed: 4 } as const;
export type ResultStatus = (typeof RESULT)[keyof typeof RESULT];
const RESULT_NAMES = Object.fromEntries(Object.entries(RESULT).map(([name, code]) => [code, name])) as Record<number, string>;

export function resultName(status: number): string {
  return RESULT_NAMES[status] ?? `status ${status}`;
}

/** Bytes of the payload of a document for this key and these parameters. */
export function v2PayloadSize(key: string, params: Params): number {
  let size = 8 + 2 + Buffer.byteLength(key) + 2 + MAC_SIZE;
  for (const [name, value] of params) size += 4 + Buffer.byteLength(name) + Buffer.byteLength(value);
  return size;
}

/** The whole document frame (header, fields, MAC), ready to write. */
export function encodeV2Document(doc: V2Document, secret: Secret, nonce: Buffer): Buffer {
  if (doc.params.length > 0xffff) throw new HandoffError(`${doc.params.length} parameters do not fit a 16-bit count`);
  const fields: Buffer[] = [u64(doc.timestamp), ...lengthPrefixed(doc.key), u16(doc.params.length)];
  for (const [name, value] of doc.params) fields.push(...lengthPrefixed(name), ...lengthPrefixed(value));
  const unsigned = Buffer.concat(fields);
  const length = unsigned.length + MAC_SIZE;
  if (length > MAX_PAYLOAD) throw new HandoffError(`the document would be ${length} bytes, more than the 16-bit length allows (${MAX_PAYLOAD})`);
  const header = encodeFrame(GATEWAY_MAGIC, 2, Buffer.alloc(0));
  header.writeUInt16BE(length, 6);
  const signed = Buffer.concat([header, unsigned]);
  return Buffer.concat([signed, mac(secret, nonce, signed)]);
}

/**
 * Reads a document payload and checks its MAC against the nonce this side
 * sent. Throws a HandoffError saying what is wrong (malformed or bad MAC);
 * the timestamp is the caller's to judge.
 */
export function verifyV2Document(payload: Buffer, secret: Secret, nonce: Buffer): V2Document {
  if (payload.length < 8 + 2 + 2 + MAC_SIZE) throw new HandoffError(`document: ${payload.length} bytes is too short for version 2`);
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt32BE(GATEWAY_MAGIC, 0);
  header.writeUInt16BE(2, 4);
  header.writeUInt16BE(payload.length, 6);
  const body = payload.subarray(0, payload.length - MAC_SIZE);
  // The MAC first: nothing of an unauthenticated document is interpreted.
  const want = mac(secret, nonce, Buffer.concat([header, body]));
  if (!timingSafeEqual(want, payload.subarray(payload.length - MAC_SIZE))) throw new MacError('document: MAC mismatch (wrong secret, altered document or another nonce)');
  return parseFields(body);
}

/** A MAC that does not verify (as opposed to a malformed document). */
export class MacError extends HandoffError {}

export function encodeResult(status: ResultStatus, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 1000);
  return encodeFrame(PROXY_MAGIC, 2, Buffer.concat([Buffer.from([status]), text]));
}

export function decodeResult(payload: Buffer): { status: number; reason: string } {
  if (payload.length < 1) throw new HandoffError('result: empty');
  return { status: payload[0]!, reason: payload.subarray(1).toString('utf8') };
}

function mac(secret: Secret, nonce: Buffer, signed: Buffer): Buffer {
  return createHmac('sha256', secret.bytes).update(LABEL).update(u16(nonce.length)).update(nonce).update(signed).digest();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseFields(body: Buffer): V2Document {
  let at = 0;
  const take = (n: number, what: string): Buffer => {
    if (at + n > body.length) throw new HandoffError(`document: ${what} runs past the end`);
    const bytes = body.subarray(at, at + n);
    at += n;
    return bytes;
  };
  const text = (what: string): string => {
    const bytes = take(take(2, `${what} length`).readUInt16BE(0), what);
    try {
      return utf8.decode(bytes);
    } catch {
      throw new HandoffError(`document: ${what} is not UTF-8`);
    }
  };
  const big = take(8, 'timestamp').readBigUInt64BE(0);
  const timestamp = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
  const key = text('key');
  const count = take(2, 'parameter count').readUInt16BE(0);
  const params: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const name = text(`parameter ${i + 1} name`);
    if (name === '') throw new HandoffError(`document: parameter ${i + 1} has an empty name`);
    if (seen.has(name)) throw new HandoffError(`document: parameter ${JSON.stringify(name)} appears twice`);
    seen.add(name);
    params.push([name, text(`parameter ${JSON.stringify(name)} value`)]);
  }
  if (at !== body.length) throw new HandoffError(`document: ${body.length - at} bytes after the last parameter`);
  return { timestamp, key, params };
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(n))), 0);
  return b;
}

function lengthPrefixed(text: string): [Buffer, Buffer] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 0xffff) throw new HandoffError(`a ${bytes.length}-byte field does not fit a 16-bit length`);
  return [u16(bytes.length), bytes];
}
