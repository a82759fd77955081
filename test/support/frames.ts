// Raw WebSocket handshakes and frames, for tests that must write what `ws` would never send.
import net from 'node:net';
import { once } from 'node:events';

/** A valid client handshake request for `path`, with extra header lines. */
export function upgradeRequest(path: string, extra: string[] = [], overrides: Record<string, string | null> = {}): string {
  const headers: Record<string, string | null> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...overrides,
  };
  const lines = Object.entries(headers).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`);
  return [`GET ${path} HTTP/1.1`, ...lines, ...extra, '', ''].join('\r\n');
}


export interface WsFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Encodes one frame (RFC 6455 §5.2); masked with `maskKey` (default 4 fixed bytes) unless `mask: false`. */
export function encodeFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), opts: { fin?: boolean; rsv?: number; mask?: boolean; maskKey?: Buffer } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = opts.mask ?? true;
  const key = opts.maskKey ?? Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const len = data.length;
  const header: number[] = [((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opcode & 0x0f)];
  const maskBit = mask ? 0x80 : 0;
  if (len < 126) header.push(maskBit | len);
  else if (len < 65536) header.push(maskBit | 126, len >> 8, len & 0xff);
  else {
    const ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(len));
    header.push(maskBit | 127, ...ext);
  }
  const body = Buffer.from(data);
  if (mask) for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(header), mask ? key : Buffer.alloc(0), body]);
}

/** Incremental frame parser: push() bytes as they come, get the complete frames back. */
export class FrameParser {
  #buf = Buffer.alloc(0);

  push(chunk: Buffer): WsFrame[] {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    const frames: WsFrame[] = [];
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) break;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (b[1]! & 0x80) !== 0;
      const keyAt = at;
      if (masked) at += 4;
      if (b.length < at + len) break;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= b[keyAt + (i & 3)]!;
      frames.push({ fin: (b[0]! & 0x80) !== 0, rsv: (b[0]! >> 4) & 7, opcode: b[0]! & 0x0f, masked, payload });
      this.#buf = b.subarray(at + len);
    }
    return frames;
  }
}

export interface RawWebSocket {
  socket: net.Socket;
  /** The 101 response head, as text. */
  head: string;
  /** Resolves with the next frame from the server; rejects if none comes within timeoutMs or the socket ends first. */
  nextFrame(timeoutMs?: number): Promise<WsFrame>;
  /** Resolves once the server has closed its side (EOF or socket closed). */
  ended: Promise<void>;
}

/** Does the opening handshake by hand on a raw TCP socket; rejects unless the answer is 101. */
export async function rawWebSocket(port: number, path: string, extraLines: string[] = []): Promise<RawWebSocket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(upgradeRequest(path, extraLines));
  let pre = Buffer.alloc(0);
  const headEnd = await new Promise<number>((resolve, reject) => {
    const onData = (c: Buffer) => {
      pre = Buffer.concat([pre, c]);
      const i = pre.indexOf('\r\n\r\n');
      if (i >= 0) {
        socket.removeListener('data', onData);
        socket.removeListener('close', onClose);
        resolve(i);
      }
    };
    const onClose = () => reject(new Error(`closed during handshake: ${pre.toString('latin1')}`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
  const head = pre.subarray(0, headEnd).toString('latin1');
  if (!head.startsWith('HTTP/1.1 101 ')) {
    socket.destroy();
    throw new Error(`handshake refused: ${head.split('\r\n')[0]}`);
  }
  const parser = new FrameParser();
  const queue: WsFrame[] = parser.push(pre.subarray(headEnd + 4));
  let waiter: ((f: WsFrame | null) => void) | null = null;
  let isEnded = false;
  const ended = new Promise<void>((resolve) => {
    const done = () => {
      isEnded = true;
      waiter?.(null);
      resolve();
    };
    socket.once('end', done);
    socket.once('close', done);
  });
  socket.on('data', (c: Buffer) => {
    queue.push(...parser.push(c));
    if (waiter && queue.length > 0) waiter(queue.shift()!);
  });
  const nextFrame = (timeoutMs = 5000) =>
    new Promise<WsFrame>((resolve, reject) => {
      if (queue.length > 0) return resolve(queue.shift()!);
      if (isEnded) return reject(new Error('socket ended before the next frame'));
      const timer = setTimeout(() => {
        waiter = null;
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      waiter = (f) => {
        clearTimeout(timer);
        waiter = null;
        if (f) resolve(f);
        else reject(new Error('socket ended before the next frame'));
      };
    });
  return { socket, head, nextFrame, ended };
}
