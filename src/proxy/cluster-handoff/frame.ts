// The framing every message of the cluster hand-off uses, in both versions:
// an 8-byte header (magic u32, version u16, length u16, big-endian) and
// `length` bytes of payload. The magic says which way a message goes; the
// 16-bit length bounds every message to 64 KiB - 1 before it is read.

/** Cluster proxy -> gateway ("VNC!"): the greeting, and in version 2 the result. */
export const PROXY_MAGIC = 0x564e4321;
/** Gateway -> cluster proxy: the document. */
export const GATEWAY_MAGIC = 0xab15ab1e;
export const HEADER_SIZE = 8;
/** The largest payload the 16-bit length field can describe. */
export const MAX_PAYLOAD = 0xffff;
/** The original's bound on the greeting's nonce. */
export const MAX_GREETING = 1024;

export interface Frame {
  magic: number;
  version: number;
  payload: Buffer;
}

/** A violation of the framing or of a version's rules; the message says what, never a secret. */
export class HandoffError extends Error {
  override name = 'HandoffError';
}

export function encodeFrame(magic: number, version: number, payload: Buffer): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new HandoffError(`a ${payload.length}-byte payload does not fit the 16-bit length`);
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  frame.writeUInt32BE(magic, 0);
  frame.writeUInt16BE(version, 4);
  frame.writeUInt16BE(payload.length, 6);
  payload.copy(frame, HEADER_SIZE);
  return frame;
}

export interface FrameRules {
  /** The magic this side expects; anything else is refused as soon as 4 bytes are in. */
  magic: number;
  /** The versions this side accepts. */
  versions: readonly number[];
  /** The largest payload accepted (refused from the header, before it is read). */
  maxPayload: number;
  /** For messages: "greeting", "document", "result". */
  what: string;
}

/**
 * Collects one frame from chunks as they arrive. The header is checked as
 * soon as it is complete, so a bad magic, version or length is refused
 * without waiting for (or buffering) a payload.
 */
export class FrameCollector {
  readonly #rules: FrameRules;
  #chunks: Buffer[] = [];
  #size = 0;
  #need = HEADER_SIZE;
  #header: { magic: number; version: number } | null = null;

  constructor(rules: FrameRules) {
    this.#rules = rules;
  }

  /** Bytes held so far (for "short read" messages). */
  get buffered(): number {
    return this.#size;
  }

  /**
   * Adds a chunk. Returns the frame once complete, with `rest` the bytes
   * after it (they belong to whatever follows); null while incomplete.
   * Throws a HandoffError on a bad header.
   */
  push(chunk: Buffer): { frame: Frame; rest: Buffer } | null {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size < this.#need) return null;
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
    this.#chunks = [all];
    if (!this.#header) {
      this.#header = checkHeader(all, this.#rules);
      this.#need = HEADER_SIZE + all.readUInt16BE(6);
      if (this.#size < this.#need) return null;
    }
    const payload = Buffer.from(all.subarray(HEADER_SIZE, this.#need));
    return { frame: { ...this.#header, payload }, rest: all.subarray(this.#need) };
  }
}

function checkHeader(header: Buffer, rules: FrameRules): { magic: number; version: number } {
  const magic = header.readUInt32BE(0);
  const version = header.readUInt16BE(4);
  const length = header.readUInt16BE(6);
  if (magic !== rules.magic) throw new HandoffError(`${rules.what}: bad magic 0x${magic.toString(16).padStart(8, '0')} (expected 0x${rules.magic.toString(16)})`);
  if (!rules.versions.includes(version)) throw new HandoffError(`${rules.what}: version ${version} not accepted (accepted: ${rules.versions.join(', ')})`);
  if (length > rules.maxPayload) throw new HandoffError(`${rules.what}: length ${length} exceeds ${rules.maxPayload}`);
  return { magic, version };
}
