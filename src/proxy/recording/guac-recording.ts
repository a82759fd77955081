// Guacamole's session recording format (what guacd writes and guacenc and
// the players read): the instruction stream from guacd to the client, as
// sent, with the tunnel's own instructions (empty opcode: ping, the UUID)
// left out; with inputs, the client's `key` and `mouse` instructions too.
// Instructions are `LEN.VALUE,LEN.VALUE,...;`, LEN counted in Unicode code
// points; a frame may end inside one, so each direction is parsed as a stream.
import { StringDecoder } from 'node:string_decoder';
import { RecordingFormatError, type RecordingFormat } from './format.js';

/** Splits a stream of Guacamole instructions; feed() returns the complete ones, as text, with their opcodes. */
export class GuacInstructionParser {
  private readonly decoder = new StringDecoder('utf8');
  private text = '';

  feed(bytes: Uint8Array): Array<{ opcode: string; text: string }> {
    this.text += this.decoder.write(bytes as Buffer);
    const found: Array<{ opcode: string; text: string }> = [];
    let start = 0;
    let i = 0;
    let opcode: string | null = null;
    const s = this.text;
    for (;;) {
      // One element: digits, '.', LEN code points, then ',' or ';'.
      const dot = s.indexOf('.', i);
      if (dot < 0) {
        if (s.length - i > 10 || !/^\d*$/.test(s.slice(i))) throw new RecordingFormatError('not a Guacamole instruction stream');
        break;
      }
      const lenText = s.slice(i, dot);
      if (!/^\d{1,10}$/.test(lenText)) throw new RecordingFormatError('not a Guacamole instruction stream');
      let j = dot + 1;
      let left = Number(lenText);
      while (left > 0 && j < s.length) {
        const c = s.charCodeAt(j);
        j += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
        left--;
      }
      if (left > 0 || j >= s.length) break; // the rest has not arrived
      const value = s.slice(dot + 1, j);
      if (opcode === null) opcode = value;
      const end = s[j];
      if (end === ';') {
        found.push({ opcode, text: s.slice(start, j + 1) });
        opcode = null;
        start = j + 1;
      } else if (end !== ',') throw new RecordingFormatError('not a Guacamole instruction stream');
      i = j + 1;
    }
    this.text = s.slice(start);
    return found;
  }
}

export function guacRecording(inputs: boolean): RecordingFormat {
  const fromServer = new GuacInstructionParser();
  const fromClient = new GuacInstructionParser();
  const keep = (list: Array<{ opcode: string; text: string }>, ok: (opcode: string) => boolean): string | null => {
    let text = '';
    for (const ins of list) if (ok(ins.opcode)) text += ins.text;
    return text || null;
  };
  return {
    header: '',
    readsClient: false,
    toClient: (_ms, bytes) => keep(fromServer.feed(bytes), (op) => op !== ''),
    fromClient: (_ms, bytes) => (inputs ? keep(fromClient.feed(bytes), (op) => op === 'key' || op === 'mouse') : null),
  };
}
