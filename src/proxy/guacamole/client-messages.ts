// What the browser sends on a Guacamole tunnel: each WebSocket message must
// hold whole, well-formed instructions. Instructions with the empty opcode
// are the tunnel's own (guacamole-common-js sends `0.,4.ping,<ms>;` every
// 500 ms while messages arrive): they are answered or dropped here, never
// passed to guacd, as Guacamole's own server does.
import { InstructionError, InstructionParser } from './instruction-parser.js';

export interface ClientInstructions {
  /** The bytes for the backend, in order (the message itself when it holds no internal instruction); null if none. */
  forward: Buffer | null;
  /** Pings to send back unchanged, in order. */
  pings: Buffer[];
}

const NO_PINGS: Buffer[] = [];
const INTERNAL = Buffer.from('0.');
const AFTER_INSTRUCTION_INTERNAL = Buffer.from(';0.');
const PING = Buffer.from('0.,4.ping,');

export class ClientMessageChecker {
  readonly #parser: InstructionParser;

  constructor(maxElementLength?: number) {
    this.#parser = new InstructionParser(maxElementLength);
  }

  /** Splits one client message, or returns why it is not whole, well-formed instructions. */
  check(data: Buffer): ClientInstructions | InstructionError {
    const parser = this.#parser;
    parser.reset();
    // An internal instruction starts the message or follows a `;`; without either, the message goes on whole.
    if (!startsWith(data, 0, INTERNAL) && data.indexOf(AFTER_INSTRUCTION_INTERNAL) < 0) {
      parser.scan(data, 0, data.length);
      const problem = this.#problem(data.length);
      return problem ?? { forward: data.length > 0 ? data : null, pings: NO_PINGS };
    }
    const kept: Buffer[] = [];
    const pings: Buffer[] = [];
    let pos = 0;
    while (pos < data.length) {
      parser.scan(data, pos, data.length, pos);
      if (parser.error || parser.lastEnd < 0) return this.#problem(parser.position)!;
      const end = parser.lastEnd;
      if (!startsWith(data, pos, INTERNAL)) kept.push(data.subarray(pos, end));
      else if (startsWith(data, pos, PING)) pings.push(data.subarray(pos, end));
      pos = end;
    }
    const forward = kept.length === 0 ? null : kept.length === 1 ? kept[0]! : Buffer.concat(kept);
    return { forward, pings };
  }

  #problem(end: number): InstructionError | null {
    const parser = this.#parser;
    if (parser.error) return parser.error;
    if (parser.position === end && !parser.atBoundary) return new InstructionError('GUAC_ERR_SYNTAX', 'a message ends inside an instruction');
    return null;
  }
}

function startsWith(data: Buffer, at: number, prefix: Buffer): boolean {
  return data.length - at >= prefix.length && data.compare(prefix, 0, prefix.length, at, at + prefix.length) === 0;
}
