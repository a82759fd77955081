// Shared pieces for integration tests: a gateway on an ephemeral loopback
// port (in this process or as the real CLI), backends, and WebSocket clients.
// Everything binds to 127.0.0.1 and is closed by the test that opened it.
import net from 'node:net';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket, type ClientOptions } from 'ws';
import { buildConfig } from '../src/config/build.js';
import { createLogger } from '../src/observability/logger.js';
import { Gateway } from '../src/server/gateway.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/wsgate.js', import.meta.url));

export interface RunningGateway {
  gateway: Gateway;
  port: number;
  url(path?: string): string;
  stop(graceMs?: number): Promise<void>;
}

/** Starts a Gateway in this process from a raw config (as YAML would give it), on 127.0.0.1:<ephemeral>. */
export async function startGateway(raw: Record<string, unknown>, logLevel = process.env.WSGATE_TEST_LOG ?? 'silent'): Promise<RunningGateway> {
  const config = buildConfig({ listen: '127.0.0.1:0', ...raw }, () => undefined, REPO_ROOT);
  config.logLevel = logLevel;
  const gateway = new Gateway(config, createLogger(logLevel, 2));
  const [address] = await gateway.start();
  const port = address!.port;
  return { gateway, port, url: (path = '/') => `ws://127.0.0.1:${port}${path}`, stop: (graceMs = 0) => gateway.stop(graceMs) };
}

/** A TCP server on 127.0.0.1:<ephemeral>; every accepted socket goes to `onSocket`. Closing destroys live sockets. */
export async function startBackend(onSocket: (socket: net.Socket) => void): Promise<{ port: number; server: net.Server; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Opens a client and resolves once it is open (rejects on an HTTP refusal, with the status in the message).
 * Messages the server sends at once may be emitted before the caller attaches a listener: for
 * such routes, create the WebSocket yourself and listen before 'open'.
 */
export async function connect(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
  return ws;
}

/** The HTTP status a handshake is refused with (or 101 if it is accepted, after which the socket is closed). */
export async function handshakeStatus(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<number> {
  try {
    const ws = await connect(url, protocols, options);
    ws.terminate();
    return 101;
  } catch (e) {
    const status = (e as { status?: number }).status;
    if (status === undefined) throw e;
    return status;
  }
}

/** Resolves with the close code and reason the client sees. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: -1, reason: 'already closed' });
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Sends a raw HTTP request over TCP and returns the whole response text (the server closes). */
export async function rawRequest(port: number, text: string | Buffer, timeoutMs = 5000): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.write(text);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([once(socket, 'close'), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

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

/** Runs the real CLI; resolves with exit code and output when it exits (killed after timeoutMs). */
export function runCli(args: string[], timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, timeoutMs);
}

/** Starts the real CLI and resolves once it logs "listening" (its port is in `port`). */
export async function spawnCli(args: string[]): Promise<{ child: ChildProcess; port: number; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = collect(child, 60_000);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  const port = await new Promise<number>((resolve, reject) => {
    const check = () => {
      const m = /"address":\{"address":"[^"]*","family":"[^"]*","port":(\d+)\}[^\n]*"msg":"listening"/.exec(out);
      if (m) {
        child.stdout!.removeListener('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((r) => reject(new Error(`wsgate exited early (${r.code}): ${r.stderr}${r.stdout}`)));
  });
  return { child, port, output: () => out, exited };
}

function collect(child: ChildProcess, timeoutMs: number) {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes finish.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    }),
  );
}

/** Deterministic pseudo-random bytes (xorshift), so failures are reproducible. */
export function pseudoRandom(size: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  for (; i < size; i++) buf[i] = i & 0xff;
  return buf;
}

// Imports for the helpers below (ES imports are hoisted; kept here so the file only grows at the end).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A deterministic byte stream of `total` bytes (a 1 MiB + 7 pseudo-random pool
 * repeated, so chunk boundaries drift across the pool) that hashes what it hands out.
 */
export function byteStream(seed: number, total: number): { take(n: number): Buffer; readonly remaining: number; digest(): string } {
  const pool = pseudoRandom(1024 * 1024 + 7, seed);
  const hash = createHash('sha256');
  let pos = 0;
  let remaining = total;
  return {
    take(n: number): Buffer {
      n = Math.min(n, remaining);
      let chunk: Buffer;
      if (pos + n <= pool.length) chunk = pool.subarray(pos, pos + n);
      else chunk = Buffer.concat([pool.subarray(pos), pool.subarray(0, n - (pool.length - pos))]);
      pos = (pos + n) % pool.length;
      remaining -= n;
      hash.update(chunk);
      return chunk;
    },
    get remaining() {
      return remaining;
    },
    digest: () => hash.digest('hex'),
  };
}

/** Counts and hashes received bytes. */
export function hashSink(): { add(chunk: Buffer): void; readonly bytes: number; digest(): string } {
  const hash = createHash('sha256');
  let bytes = 0;
  return {
    add(chunk: Buffer) {
      bytes += chunk.length;
      hash.update(chunk);
    },
    get bytes() {
      return bytes;
    },
    digest: () => hash.digest('hex'),
  };
}

/** Random sizes in 1..max from a seeded xorshift: half uniform, half log-uniform (many small ones). */
export function seededSizes(seed: number, max = 256 * 1024): () => number {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  return () => (next() & 1 ? 1 + (next() % max) : Math.min(max, Math.max(1, Math.floor(2 ** ((next() / 2 ** 32) * Math.log2(max))))));
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (Linux). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Resolves once the gateway has no session left; rejects after timeoutMs with the count. */
export function registryEmpty(gw: RunningGateway, timeoutMs = 5000): Promise<void> {
  const registry = gw.gateway.registry;
  if (registry.size === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      registry.removeListener('empty', done);
      reject(new Error(`${registry.size} session(s) still registered after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    registry.once('empty', done);
  });
}

// ---- Raw WebSocket framing, for tests that must write frames `ws` would never send ----

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

/** Resolves once the gateway has no live session (rejects after timeoutMs, naming how many are left). */
export function sessionsDrained(gateway: Gateway, timeoutMs = 5000): Promise<void> {
  if (gateway.registry.size === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      gateway.registry.removeListener('empty', done);
      reject(new Error(`${gateway.registry.size} session(s) still open after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    gateway.registry.once('empty', done);
  });
}

/** Resolves on the socket's next 'drain' or 'close', whichever comes first (and removes both listeners). */
export function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.removeListener('drain', done);
      socket.removeListener('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}
