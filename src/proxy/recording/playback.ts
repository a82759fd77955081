// Reading a recording back for `wsgate replay`: the frames the server sent,
// with their times, from a noVNC/websockify file (evaluated as the script it
// is, in an empty node:vm context, as noVNC's playback page loads it) or an
// FBS file (its blocks); either one gzipped. A noVNC recording of an RFB
// session is given the FBS treatment on the way (fbs-recording.ts): its
// security handshake becomes None, so a viewer needs no password, and no
// recorded challenge waits for an answer the replay would not wait for.
import vm from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { FBS_HEADER, rfbRewriter } from './fbs-recording.js';
import { parseNovncEntry, type NovncFrame } from './novnc-format.js';

export interface PlaybackFrame {
  ms: number;
  data: Buffer;
}

export interface Playback {
  format: 'novnc' | 'fbs';
  /** What the server sent, in order. */
  frames: PlaybackFrame[];
}

export function readRecording(raw: Buffer): Playback {
  const bytes = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  const head = bytes.subarray(0, 32).toString('latin1');
  if (head.startsWith(FBS_HEADER)) return { format: 'fbs', frames: fbsFrames(bytes) };
  if (head.startsWith('var VNC_frame_data')) return { format: 'novnc', frames: novncFrames(bytes.toString('latin1')) };
  throw new Error('not a recording wsgate can replay (neither noVNC/websockify\'s "var VNC_frame_data" nor "FBS 001.000")');
}

function novncFrames(text: string): PlaybackFrame[] {
  const context: { VNC_frame_data?: unknown } = {};
  vm.runInNewContext(text, context, { timeout: 30_000 });
  const entries = context.VNC_frame_data;
  if (!Array.isArray(entries)) throw new Error('the file does not define VNC_frame_data as an array');
  const recorded: NovncFrame[] = [];
  for (const entry of entries) {
    if (typeof entry !== 'string') throw new Error('VNC_frame_data holds something other than strings');
    const frame = parseNovncEntry(entry);
    if (!frame) break; // 'EOF'
    recorded.push(frame);
  }
  const first = recorded.find((f) => f.toClient);
  if (!first || !/^RFB \d{3}\.\d{3}\n/.test(first.data.toString('latin1', 0, 12))) return recorded.filter((f) => f.toClient).map(({ ms, data }) => ({ ms, data }));
  return asNone(recorded);
}

/** An RFB session's server frames with the handshake rewritten to None (the client's recorded answers say how; without them, the server's own version and first type). */
function asNone(recorded: NovncFrame[]): PlaybackFrame[] {
  const rfb = rfbRewriter();
  const frames: PlaybackFrame[] = [];
  const push = (ms: number, data: Buffer | null) => void (data && data.length && frames.push({ ms, data }));
  const hasInputs = recorded.some((f) => !f.toClient);
  let server = 0;
  for (const f of recorded) {
    if (f.toClient) {
      push(f.ms, rfb.toClient(f.data));
      server++;
      // No client frames recorded: answer as the client most likely did.
      if (!hasInputs && server === 1) push(f.ms, rfb.fromClient(f.data.subarray(0, 12)));
      if (!hasInputs && server === 2 && f.data[0]) push(f.ms, rfb.fromClient(f.data.subarray(1, 2)));
    } else push(f.ms, rfb.fromClient(f.data));
  }
  return frames;
}

function fbsFrames(bytes: Buffer): PlaybackFrame[] {
  const frames: PlaybackFrame[] = [];
  let at = FBS_HEADER.length;
  while (at + 4 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    const padded = (length + 3) & ~3;
    if (at + 4 + padded + 4 > bytes.length) break; // a cut recording: its last block is incomplete
    frames.push({ data: bytes.subarray(at + 4, at + 4 + length), ms: bytes.readUInt32BE(at + 4 + padded) });
    at += 8 + padded;
  }
  return frames;
}
