// Guacamole protocol pieces for tests, written apart from the gateway's own
// (string-based, for clarity rather than speed), so that a test checks the
// gateway against an independent reading of the protocol.
import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';

/** One instruction from its elements; lengths from the string iterator (code points). */
export function instruction(...elements: Array<string | number>): string {
  return elements.map((e) => `${[...String(e)].length}.${e}`).join(',') + ';';
}

/**
 * Parses text that must hold whole instructions only; returns them as
 * element arrays, or throws if the text is malformed or ends mid-instruction.
 */
export function parseWhole(text: string): string[][] {
  const parser = new TextInstructionParser();
  const out = parser.push(text);
  if (parser.pending !== '') throw new Error(`ends inside an instruction: ${JSON.stringify(parser.pending.slice(0, 40))}`);
  return out;
}

/** A streaming parser over decoded text: push() returns the instructions completed so far. */
export class TextInstructionParser {
  pending = '';

  push(text: string): string[][] {
    const buf = this.pending + text;
    const chars = [...buf];
    const out: string[][] = [];
    let i = 0;
    let start = 0;
    let elements: string[] = [];
    let consumedUnits = 0; // UTF-16 units of buf in complete instructions
    let units = 0;
    const unitsOf = (from: number, to: number) => chars.slice(from, to).join('').length;
    for (;;) {
      let digits = '';
      let j = i;
      while (j < chars.length && chars[j]! >= '0' && chars[j]! <= '9') digits += chars[j++];
      if (j >= chars.length) break; // the length is not all here yet
      if (digits === '' || chars[j] !== '.') throw new Error(`malformed length at code point ${j}: ${JSON.stringify(chars.slice(i, j + 1).join(''))}`);
      const valueEnd = j + 1 + Number(digits);
      if (valueEnd >= chars.length) break; // the value or its terminator is not all here yet
      elements.push(chars.slice(j + 1, valueEnd).join(''));
      const t = chars[valueEnd];
      i = valueEnd + 1;
      if (t === ';') {
        out.push(elements);
        elements = [];
        units += unitsOf(start, i);
        consumedUnits = units;
        start = i;
      } else if (t !== ',') throw new Error(`malformed terminator ${JSON.stringify(t)} at code point ${valueEnd}`);
    }
    this.pending = buf.slice(consumedUnits);
    return out;
  }
}

/** Decodes a byte stream (chunks cut anywhere) into instructions. */
export class ByteInstructionParser {
  readonly #decoder = new StringDecoder('utf8');
  readonly #text = new TextInstructionParser();

  push(bytes: Buffer): string[][] {
    return this.#text.push(this.#decoder.write(bytes));
  }

  get pending(): string {
    return this.#text.pending;
  }
}

/** xorshift32 in [0, 1). */
export function prng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(a: readonly T[]) => a[Math.floor(next() * a.length)]! };
}

const TEXT = ['a', 'Z', ' ', ',', ';', '.', '7', 'é', 'ж', '€', '中', '😀', '𝄞', '\u{10ffff}'];

/** Instructions as guacd draws: images in base64 blobs, syncs, and some multi-byte text. */
export function drawingInstructions(seed: number, count: number): string[] {
  const rng = prng(seed);
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    const kind = rng.int(10);
    if (kind < 4) out.push(instruction('blob', rng.int(8), Buffer.alloc(rng.int(6048) + 1, rng.int(256)).toString('base64')));
    else if (kind < 6) out.push(instruction('sync', 1_700_000_000_000 + n, 0));
    else if (kind < 8) out.push(instruction('rect', 0, rng.int(1920), rng.int(1080), 64, 64));
    else {
      let text = '';
      for (let i = rng.int(300); i > 0; i--) text += rng.pick(TEXT);
      out.push(instruction('name', text, ''));
    }
  }
  return out;
}

/**
 * A deterministic stream of whole instructions, `total` bytes or a little
 * more (a pool of about 1 MiB repeated, so it ends on an instruction), that
 * hashes what it hands out, for gigabyte tests.
 */
export function instructionStream(seed: number, total: number): { take(n: number): Buffer; readonly remaining: number; readonly total: number; digest(): string } {
  const pool = Buffer.from(drawingInstructions(seed, 400).join(''));
  const rounds = Math.max(1, Math.ceil(total / pool.length));
  const length = rounds * pool.length;
  const hash = createHash('sha256');
  let pos = 0;
  let remaining = length;
  return {
    take(n: number): Buffer {
      n = Math.min(n, remaining, pool.length);
      const at = pos % pool.length;
      const chunk = at + n <= pool.length ? pool.subarray(at, at + n) : Buffer.concat([pool.subarray(at), pool.subarray(0, n - (pool.length - at))]);
      pos += n;
      remaining -= n;
      hash.update(chunk);
      return chunk;
    },
    get remaining() {
      return remaining;
    },
    total: length,
    digest: () => hash.digest('hex'),
  };
}
