// A streaming scanner of the Guacamole protocol's byte stream: where each
// instruction ends, and whether the stream is well formed. It never builds
// strings: the gateway forwards the very bytes it scanned.
//
// An instruction is elements `LENGTH.VALUE` separated by `,` and ended by
// `;`, e.g. `4.size,1.0,4.1024,3.768;`. LENGTH counts Unicode code points
// (guacd and guacamole-common-js >= 1.5.2 both do), so the scanner decodes
// UTF-8 as it goes, across read boundaries: a character split between two
// reads is carried in the state below, never decoded per chunk. Empty
// elements (`0.`), the empty opcode included, are valid.
//
// Speed: for ASCII, code points are bytes, so a value is skipped by a tight
// loop over its bytes, or for long values by node's SIMD `isAscii`; only
// non-ASCII bytes go through the UTF-8 state machine. No allocation per
// instruction.
import { isAscii } from 'node:buffer';

export type InstructionErrorCode = 'GUAC_ERR_SYNTAX' | 'GUAC_ERR_UTF8' | 'GUAC_ERR_TOO_LONG';

/** The WebSocket close code for each kind of broken stream (RFC 6455 §7.4.1). */
const CLOSE_CODES: Record<InstructionErrorCode, number> = {
  GUAC_ERR_SYNTAX: 1002,
  GUAC_ERR_UTF8: 1007,
  GUAC_ERR_TOO_LONG: 1009,
};

export class InstructionError extends Error {
  override name = 'InstructionError';
  constructor(
    readonly code: InstructionErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** 1002 for bad syntax, 1007 for invalid UTF-8, 1009 for an instruction over the size bound. */
  get closeCode(): number {
    return CLOSE_CODES[this.code];
  }
}

const enum State {
  /** Before an element: a digit must come. */
  LengthStart,
  /** In the digits of a length: more digits or the `.`. */
  Length,
  /** In an element's value. */
  Value,
  /** After a value: `,` or `;`. */
  Terminator,
}

const DOT = 0x2e;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const ZERO = 0x30;
const NINE = 0x39;
/**
 * A value's first ASCII_LOOK bytes are checked by the loop; if they are all
 * ASCII and at least ASCII_CALL_MIN more follow, the rest goes to isAscii
 * (SIMD, ~30 GB/s here, but ~0.2 µs a call with its view).
 */
const ASCII_LOOK = 32;
const ASCII_CALL_MIN = 256;

export class InstructionParser {
  /** Where the last scan() stopped (an offset into the buffer it was given). */
  position = 0;
  /** End offset of the last instruction the last scan() completed, or -1 if none. */
  lastEnd = -1;
  /** Set once the stream is broken; scan() then does nothing. */
  error: InstructionError | null = null;

  readonly #maxElementLength: number;
  #state = State.LengthStart;
  #length = -1;
  /** Code points still due in the current value. */
  #remaining = 0;
  /** Continuation bytes still due in the current character, and the range the next one must be in. */
  #need = 0;
  #low = 0x80;
  #high = 0xbf;

  /** `maxElementLength`: a declared length above it is an error at once (the value could not fit the instruction bound). */
  constructor(maxElementLength = Number.MAX_SAFE_INTEGER) {
    this.#maxElementLength = maxElementLength;
  }

  /** True between instructions: nothing of a next one seen yet. */
  get atBoundary(): boolean {
    return this.#state === State.LengthStart && this.#length === -1;
  }

  /** Forgets the stream so far (for a fresh message). */
  reset(): void {
    this.#state = State.LengthStart;
    this.#length = -1;
    this.#remaining = 0;
    this.#need = 0;
    this.error = null;
  }

  /**
   * Scans buf[from, to). Stops at the end, at an error (`error` set,
   * `position` at the offending byte), or right after the first instruction
   * that ends at or past `cutAt` (then returns true). `lastEnd` tells the end
   * of the last instruction completed in this call.
   */
  scan(buf: Uint8Array, from: number, to: number, cutAt: number = to + 1): boolean {
    this.lastEnd = -1;
    if (this.error) {
      this.position = from;
      return false;
    }
    let state = this.#state;
    let length = this.#length;
    let remaining = this.#remaining;
    let need = this.#need;
    let i = from;
    let cut = false;
    let fail: InstructionError | null = null;
    const maxLength = this.#maxElementLength;
    // One pass of this loop is one element: length, value, terminator in sequence (no
    // dispatch per byte); a read that ends inside one leaves the state for the next call.
    scan: while (i < to) {
      if (state === State.LengthStart || state === State.Length) {
        let b = buf[i]!;
        while (b >= ZERO && b <= NINE) {
          length = state === State.LengthStart ? b - ZERO : length * 10 + (b - ZERO);
          state = State.Length;
          if (length > maxLength) {
            fail = new InstructionError('GUAC_ERR_TOO_LONG', `element length over ${maxLength}`);
            break scan;
          }
          if (++i === to) break scan;
          b = buf[i]!;
        }
        if (b !== DOT || state !== State.Length) {
          fail = new InstructionError('GUAC_ERR_SYNTAX', state === State.Length ? `expected a digit or "." in an element length, got ${describeByte(b)}` : `expected an element length, got ${describeByte(b)}`);
          break scan;
        }
        remaining = length;
        state = State.Value;
        i++;
      }
      if (state === State.Value) {
        // First the rest of a character split by the previous read.
        while (need > 0) {
          if (i === to) break scan;
          const b = buf[i]!;
          if (b < this.#low || b > this.#high) {
            fail = utf8Error(b);
            break scan;
          }
          this.#low = 0x80;
          this.#high = 0xbf;
          need--;
          i++;
        }
        while (remaining > 0 && i < to) {
          let b = buf[i]!;
          if (b < 0x80) {
            const stop = Math.min(to, i + remaining);
            let j = i + 1;
            // A short look first: text with non-ASCII in it should not pay for a SIMD pass that fails.
            const look = Math.min(stop, j + ASCII_LOOK);
            while (j < look && buf[j]! < 0x80) j++;
            if (j === look && stop - j >= ASCII_CALL_MIN && isAscii(buf.subarray(j, stop))) j = stop;
            else while (j < stop && buf[j]! < 0x80) j++;
            remaining -= j - i;
            i = j;
            continue;
          }
          // A lead byte: one code point of 1-3 continuation bytes, in the ranges of Unicode Table 3-7.
          let low = 0x80;
          let high = 0xbf;
          if (b >= 0xc2 && b <= 0xdf) need = 1;
          else if (b >= 0xe0 && b <= 0xef) {
            need = 2;
            if (b === 0xe0) low = 0xa0; // no overlong forms
            else if (b === 0xed) high = 0x9f; // no surrogates
          } else if (b >= 0xf0 && b <= 0xf4) {
            need = 3;
            if (b === 0xf0) low = 0x90; // no overlong forms
            else if (b === 0xf4) high = 0x8f; // nothing above U+10FFFF
          } else {
            fail = new InstructionError('GUAC_ERR_UTF8', `invalid UTF-8: byte ${describeByte(b)} cannot start a character`);
            break scan;
          }
          remaining--;
          i++;
          // The whole character is here (the usual case): check it without going round the state machine.
          for (; need > 0 && i < to; need--, i++) {
            b = buf[i]!;
            if (b < low || b > high) {
              fail = utf8Error(b);
              break scan;
            }
            low = 0x80;
            high = 0xbf;
          }
          this.#low = low;
          this.#high = high;
          if (need > 0) break scan; // the read ends inside the character
        }
        if (remaining > 0) break; // the read ends inside the value
        state = State.Terminator;
        if (i === to) break;
      }
      const b = buf[i]!;
      if (b === COMMA) {
        state = State.LengthStart;
        i++;
      } else if (b === SEMICOLON) {
        state = State.LengthStart;
        length = -1; // marks "between instructions" for atBoundary
        i++;
        this.lastEnd = i;
        if (i >= cutAt) {
          cut = true;
          break;
        }
      } else {
        fail = new InstructionError('GUAC_ERR_SYNTAX', `expected "," or ";" after an element, got ${describeByte(b)}`);
        break;
      }
    }
    this.#state = state;
    this.#length = length;
    this.#remaining = remaining;
    this.#need = need;
    this.position = i;
    this.error = fail;
    return cut;
  }
}

function utf8Error(b: number): InstructionError {
  return new InstructionError('GUAC_ERR_UTF8', `invalid UTF-8: byte ${describeByte(b)} where a continuation byte was due`);
}

function describeByte(b: number): string {
  return b >= 0x21 && b < 0x7f ? `"${String.fromCharCode(b)}"` : `0x${b.toString(16).padStart(2, '0')}`;
}
