// Version 1 of the hand-off: the original module's document, byte for byte.
//   text = KEY " " SECRET " " NONCE (" " NAME " " VALUE)*   (parameters in document order)
//   hash = lowercase hex SHA-256(text)
//   <vncconnection><key>KEY</key><hash>HASH</hash><params><NAME>VALUE</NAME>...</params></vncconnection>
// The hash has the secret inside a plain digest (not a MAC) and an
// ambiguous text (spaces inside values); it is kept for deployments whose
// cluster proxies speak only this. Version 2 is the sound one.
import { createHash, timingSafeEqual } from 'node:crypto';
import { HandoffError } from './frame.js';
import type { Secret } from './secret.js';

export type Params = ReadonlyArray<readonly [name: string, value: string]>;

export interface V1Document {
  key: string;
  /** As written: 64 lowercase hex digits. */
  hash: string;
  params: Params;
}

/** The nonce of a greeting ends at its first whitespace byte (a trailing CR/LF is not part of it). */
export function v1Nonce(greeting: Buffer): Buffer {
  const end = greeting.findIndex((b) => b === 0x20 || (b >= 0x09 && b <= 0x0d));
  return end < 0 ? greeting : greeting.subarray(0, end);
}

export function v1HashText(key: string, secret: Secret, nonce: Buffer, params: Params): Buffer {
  const parts: Buffer[] = [Buffer.from(`${key} `), secret.bytes, Buffer.from(' '), nonce];
  for (const [name, value] of params) parts.push(Buffer.from(` ${name} ${value}`));
  return Buffer.concat(parts);
}

export function v1Hash(key: string, secret: Secret, nonce: Buffer, params: Params): string {
  return createHash('sha256').update(v1HashText(key, secret, nonce, params)).digest('hex');
}

// XML 1.0 (fifth edition) Name: a parameter's name becomes an element's name.
const NAME_START = 'A-Z_a-z:\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
const XML_NAME = new RegExp(`^[${NAME_START}][${NAME_CHAR}]*$`, 'u');

export function isXmlName(name: string): boolean {
  return XML_NAME.test(name);
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

export function encodeV1Document(doc: V1Document): Buffer {
  let xml = `<vncconnection><key>${escapeXml(doc.key)}</key><hash>${doc.hash}</hash><params>`;
  for (const [name, value] of doc.params) xml += `<${name}>${escapeXml(value)}</${name}>`;
  return Buffer.from(`${xml}</params></vncconnection>`);
}

/** Why these parameters cannot travel in a version 1 document, or null. */
export function v1Unfit(params: Params): string | null {
  for (const [name] of params) if (!isXmlName(name)) return `parameter name ${JSON.stringify(name)} is not a valid XML name`;
  return null;
}

export function verifyV1(doc: V1Document, secret: Secret, nonce: Buffer): boolean {
  const want = Buffer.from(v1Hash(doc.key, secret, nonce, doc.params));
  const got = Buffer.from(doc.hash);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Reads a document of exactly the shape above. Whitespace between elements
 * and an XML declaration are allowed; values may use the five predefined
 * entities and character references; anything else is refused.
 */
export function parseV1Document(payload: Buffer): V1Document {
  const p = new XmlCursor(payload.toString('utf8'));
  p.declaration();
  p.open('vncconnection');
  p.open('key');
  const key = p.text();
  p.close('key');
  p.open('hash');
  const hash = p.text();
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new HandoffError('document: <hash> is not 64 lowercase hex digits');
  p.close('hash');
  const params: Array<[string, string]> = [];
  const seen = new Set<string>();
  if (!p.empty('params')) {
    p.open('params');
    for (let name = p.nextOpen(); name !== null; name = p.nextOpen()) {
      if (seen.has(name)) throw new HandoffError(`document: parameter ${JSON.stringify(name)} appears twice`);
      seen.add(name);
      let value = '';
      if (!p.selfClosed) {
        value = p.text();
        p.close(name);
      }
      params.push([name, value]);
    }
    p.close('params');
  }
  p.close('vncconnection');
  p.end();
  return { key, hash, params };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** A cursor over the one document shape; every method throws a HandoffError naming what it expected. */
class XmlCursor {
  readonly #s: string;
  #i = 0;
  /** The tag nextOpen() just read was `<name/>`. */
  selfClosed = false;

  constructor(s: string) {
    this.#s = s;
  }

  declaration(): void {
    this.#skipSpace();
    if (this.#s.startsWith('<?xml', this.#i)) {
      const end = this.#s.indexOf('?>', this.#i);
      if (end < 0) throw new HandoffError('document: unterminated XML declaration');
      this.#i = end + 2;
    }
  }

  open(name: string): void {
    this.#skipSpace();
    this.#expect(`<${name}>`);
  }

  close(name: string): void {
    this.#skipSpace();
    this.#expect(`</${name}>`);
  }

  /** `<name/>` at the cursor: consumed, true. */
  empty(name: string): boolean {
    this.#skipSpace();
    if (!this.#s.startsWith(`<${name}/>`, this.#i)) return false;
    this.#i += name.length + 3;
    return true;
  }

  /** The name of the next opening tag (consumed with its `>` or `/>`), or null at a closing tag. */
  nextOpen(): string | null {
    this.#skipSpace();
    if (this.#s.startsWith('</', this.#i)) return null;
    const m = /^<([^\s<>/!?]+)\s*(\/?)>/u.exec(this.#s.slice(this.#i, this.#i + 70000));
    if (!m) throw new HandoffError(`document: expected a parameter element at offset ${this.#i}`);
    if (!isXmlName(m[1]!)) throw new HandoffError(`document: ${JSON.stringify(m[1])} is not an XML name`);
    this.#i += m[0].length;
    this.selfClosed = m[2] === '/';
    return m[1]!;
  }

  /** Character data up to the next tag, with entities replaced. */
  text(): string {
    const end = this.#s.indexOf('<', this.#i);
    if (end < 0) throw new HandoffError('document: ends inside a value');
    const raw = this.#s.slice(this.#i, end);
    this.#i = end;
    return raw.replace(/&([^;&<>\s]*);?/g, (whole, ref: string) => {
      if (!whole.endsWith(';')) throw new HandoffError('document: a bare "&" in a value');
      if (ENTITIES[ref] !== undefined) return ENTITIES[ref]!;
      const code = /^#x([0-9a-fA-F]{1,6})$/.exec(ref) ? parseInt(ref.slice(2), 16) : /^#([0-9]{1,7})$/.exec(ref) ? Number(ref.slice(1)) : NaN;
      if (!(code >= 0x9 && code <= 0x10ffff)) throw new HandoffError(`document: unknown entity &${ref};`);
      return String.fromCodePoint(code);
    });
  }

  end(): void {
    this.#skipSpace();
    if (this.#i !== this.#s.length) throw new HandoffError('document: data after </vncconnection>');
  }

  #expect(literal: string): void {
    if (!this.#s.startsWith(literal, this.#i)) throw new HandoffError(`document: expected ${literal} at offset ${this.#i}`);
    this.#i += literal.length;
  }

  #skipSpace(): void {
    while (this.#i < this.#s.length && ' \t\r\n'.includes(this.#s[this.#i]!)) this.#i++;
  }
}
