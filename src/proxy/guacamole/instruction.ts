// Guacamole instructions as strings, for the few the gateway writes or reads
// itself (the guacd handshake, internal instructions). The relay never goes
// through here: it forwards bytes (see framer.ts).
import { InstructionError, InstructionParser } from './instruction-parser.js';

/** `4.size,4.1024,3.768;` from ["size", "1024", "768"]; lengths in code points, as the protocol counts. */
export function encodeInstruction(elements: readonly string[]): string {
  let out = '';
  for (let i = 0; i < elements.length; i++) {
    const value = elements[i]!;
    out += `${i === 0 ? '' : ','}${codePointLength(value)}.${value}`;
  }
  return out + ';';
}

/** One decoded instruction and where it ends in the bytes it came from. */
export interface DecodedInstruction {
  opcode: string;
  args: string[];
  /** Byte offset just past its `;`. */
  end: number;
}

/** Decodes bytes that hold whole instructions only; throws an InstructionError otherwise. */
export function decodeInstructions(bytes: Buffer): DecodedInstruction[] {
  const parser = new InstructionParser();
  parser.reset();
  const out: DecodedInstruction[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    parser.scan(bytes, pos, bytes.length, pos);
    if (parser.error) throw parser.error;
    if (parser.lastEnd < 0) throw new InstructionError('GUAC_ERR_SYNTAX', 'ends inside an instruction');
    const elements = splitElements(bytes.toString('utf8', pos, parser.lastEnd));
    out.push({ opcode: elements[0]!, args: elements.slice(1), end: parser.lastEnd });
    pos = parser.lastEnd;
  }
  return out;
}

/** The elements of one well-formed instruction (already checked by the parser). */
function splitElements(text: string): string[] {
  const elements: string[] = [];
  let i = 0;
  for (;;) {
    const dot = text.indexOf('.', i);
    let codePoints = Number(text.slice(i, dot));
    let j = dot + 1;
    while (codePoints-- > 0) j += text.codePointAt(j)! > 0xffff ? 2 : 1;
    elements.push(text.slice(dot + 1, j));
    if (text[j] === ';') return elements;
    i = j + 1;
  }
}

function codePointLength(value: string): number {
  let n = value.length;
  // Each surrogate pair is one code point but two UTF-16 units.
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
