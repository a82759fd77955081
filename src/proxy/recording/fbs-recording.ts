// FBS 1.0, the format of rfbproxy and of the players that read it: the
// header `FBS 001.000\n`, then blocks of what the server sent, each a u32
// length, the bytes padded with zeros to a multiple of 4, and a u32 time in
// ms since the session started (all big-endian).
//
// A player replays the server's side to a viewer, so the recording must not
// need the VNC password: as rfbproxy does, the RFB security handshake is
// rewritten to security type None. What the server says is followed until
// ServerInit, watching the client's answers to know the version and type:
//   version      the version the client answered with (the session's), not the server's offer
//   3.7, 3.8     the server's list of types becomes [None]; the client's choice is read
//   3.3          the server's u32 type becomes None (1)
//   VNC auth     the 16-byte challenge is left out (the client's response never was recorded)
//   SecurityResult kept for 3.8 (sent even for None there); left out before 3.8, where None has none
// From ServerInit on every byte is recorded as the server sent it. Other
// security types (TLS, VeNCrypt...) cannot be followed: the recording is cut.
import { RecordingFormatError, type RecordingFormat } from './format.js';

export const FBS_HEADER = 'FBS 001.000\n';

const NONE = 1;
const VNC_AUTH = 2;

type Phase = 'server-version' | 'client-version' | 'security-types' | 'client-choice' | 'challenge' | 'security-result' | 'recording';

export function fbsBlock(ms: number, data: Uint8Array): Buffer {
  const padded = (data.length + 3) & ~3;
  const out = Buffer.alloc(8 + padded);
  out.writeUInt32BE(data.length, 0);
  out.set(data, 4);
  out.writeUInt32BE(Math.min(ms, 0xffffffff), 4 + padded);
  return out;
}

/** Rewrites one session's server bytes to security None; each call returns what the recording gets now. */
export interface RfbRewriter {
  toClient(bytes: Uint8Array): Buffer | null;
  fromClient(bytes: Uint8Array): Buffer | null;
}

export function rfbRewriter(): RfbRewriter {
  let phase: Phase = 'server-version';
  let minor = 8;
  let chosen = 0;
  let server = Buffer.alloc(0); // server bytes not yet taken apart (handshake only)
  let client = Buffer.alloc(0);
  const out: Buffer[] = [];

  const take = (n: number): Buffer | null => {
    if (server.length < n) return null;
    const head = server.subarray(0, n);
    server = server.subarray(n);
    return head;
  };

  // Moves the handshake on as far as the bytes seen allow; what the recording gets goes to `out`.
  const advance = () => {
    for (;;) {
      if (phase === 'server-version') {
        // Held back: the recording gets the version the client answers with.
        if (!take(12)) return;
        phase = 'client-version';
      } else if (phase === 'client-version') {
        if (client.length < 12) return;
        const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(client.subarray(0, 12).toString('latin1'));
        if (!m) throw new RecordingFormatError('the client did not send an RFB version');
        const major = Number(m[1]);
        minor = major > 3 ? 8 : Math.min(Number(m[2]), 8);
        if (minor !== 3 && minor !== 7 && minor !== 8) minor = 3; // as RFB says: unknown 3.x versions are 3.3
        client = client.subarray(12);
        out.push(Buffer.from(`RFB 003.00${minor}\n`, 'latin1'));
        phase = 'security-types';
      } else if (phase === 'security-types') {
        if (minor >= 7) {
          if (server.length < 1) return;
          const n = server[0]!;
          if (n === 0) return failed('the server refused the connection');
          if (!take(1 + n)) return; // the whole list first
          out.push(Buffer.from([1, NONE]));
          phase = 'client-choice';
        } else {
          const t = take(4);
          if (!t) return;
          chosen = t.readUInt32BE(0);
          if (chosen === 0) return failed('the server refused the connection');
          out.push(Buffer.from([0, 0, 0, NONE]));
          phase = afterChoice();
        }
      } else if (phase === 'client-choice') {
        if (client.length < 1) return;
        chosen = client[0]!;
        client = client.subarray(1);
        phase = afterChoice();
      } else if (phase === 'challenge') {
        if (!take(16)) return;
        phase = 'security-result';
      } else if (phase === 'security-result') {
        if (minor >= 8) {
          phase = 'recording'; // the result (and a failure's reason) as the server sent it
        } else {
          const r = take(4);
          if (!r) return;
          if (r.readUInt32BE(0) !== 0) return failed('authentication failed');
          phase = 'recording';
        }
      } else {
        if (server.length) out.push(server);
        server = Buffer.alloc(0);
        return;
      }
    }
  };
  const afterChoice = (): Phase => {
    if (chosen === NONE) return minor >= 8 ? 'security-result' : 'recording';
    if (chosen === VNC_AUTH) return 'challenge';
    throw new RecordingFormatError(`security type ${chosen} cannot be rewritten to None`);
  };
  const failed = (why: string): void => {
    throw new RecordingFormatError(`no session to record: ${why}`);
  };
  const flush = (): Buffer | null => {
    if (!out.length) return null;
    const data = out.length === 1 ? out[0]! : Buffer.concat(out);
    out.length = 0;
    return data;
  };

  return {
    toClient(bytes) {
      if (phase === 'recording') return Buffer.from(bytes);
      server = Buffer.concat([server, bytes]);
      advance();
      return flush();
    },
    fromClient(bytes) {
      // Only the version and the choice are read; after them come the auth response and ClientInit.
      if (phase !== 'server-version' && phase !== 'client-version' && phase !== 'security-types' && phase !== 'client-choice') return null;
      client = Buffer.concat([client, bytes]);
      advance();
      return flush();
    },
  };
}

export function fbsRecording(): RecordingFormat {
  const rfb = rfbRewriter();
  const block = (ms: number, data: Buffer | null) => (data ? fbsBlock(ms, data) : null);
  return {
    header: FBS_HEADER,
    readsClient: true,
    toClient: (ms, bytes) => block(ms, rfb.toClient(bytes)),
    fromClient: (ms, bytes) => block(ms, rfb.fromClient(bytes)),
  };
}
