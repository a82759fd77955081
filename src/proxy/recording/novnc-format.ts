// websockify's --record format, the one noVNC's playback page loads as a
// script: `var VNC_frame_data = [`, one JS string literal per WebSocket
// frame, `'EOF'];`. A frame to the client is `'{<ms>{<bytes>'`, one from it
// `'}<ms>}<bytes>'`, ms counted from the session's start. The bytes are
// written as websockify writes them (Python's latin-1 -> unicode_escape, then
// ' escaped): printable ASCII as itself, \\ \' \t \n \r, everything else \xhh.
// Decoding each character's code back to a byte gives the frame.

export const NOVNC_HEADER = 'var VNC_frame_data = [\n';
export const NOVNC_TRAILER = "'EOF'];\n";

const HEX = '0123456789abcdef';

/** One frame as a line of the file (ASCII). */
export function novncFrame(toClient: boolean, ms: number, bytes: Uint8Array): Buffer {
  const mark = toClient ? '{' : '}';
  const head = `'${mark}${ms}${mark}`;
  const out = Buffer.allocUnsafe(head.length + bytes.length * 4 + 3);
  let n = out.write(head, 0, 'latin1');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x20 && b < 0x7f) {
      if (b === 0x5c || b === 0x27) out[n++] = 0x5c; // \ and '
      out[n++] = b;
    } else if (b === 0x09) n = escape(out, n, 0x74); // \t
    else if (b === 0x0a) n = escape(out, n, 0x6e); // \n
    else if (b === 0x0d) n = escape(out, n, 0x72); // \r
    else {
      out[n++] = 0x5c;
      out[n++] = 0x78; // x
      out[n++] = HEX.charCodeAt(b >> 4);
      out[n++] = HEX.charCodeAt(b & 15);
    }
  }
  out[n++] = 0x27;
  out[n++] = 0x2c;
  out[n++] = 0x0a;
  return out.subarray(0, n);
}

function escape(out: Buffer, n: number, letter: number): number {
  out[n] = 0x5c;
  out[n + 1] = letter;
  return n + 2;
}

/** A frame as the file's JS evaluates it (a string), taken apart the way noVNC's player does. */
export interface NovncFrame {
  toClient: boolean;
  ms: number;
  data: Buffer;
}

/** Takes one evaluated VNC_frame_data entry apart; null for 'EOF'. */
export function parseNovncEntry(entry: string): NovncFrame | null {
  if (entry === 'EOF') return null;
  const mark = entry[0];
  const end = entry.indexOf(mark!, 1);
  if ((mark !== '{' && mark !== '}') || end < 2) throw new Error(`not a recorded frame: ${JSON.stringify(entry.slice(0, 20))}`);
  const ms = Number(entry.slice(1, end));
  if (!Number.isInteger(ms)) throw new Error(`bad timestamp in ${JSON.stringify(entry.slice(0, 20))}`);
  return { toClient: mark === '{', ms, data: Buffer.from(entry.slice(end + 1), 'latin1') };
}
