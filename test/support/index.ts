// Shared pieces for integration tests: a gateway on an ephemeral loopback
// port (in this process or as the real CLI), backends, and WebSocket clients.
// Everything binds to 127.0.0.1 and is closed by the test that opened it.
import net from 'node:net';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket, type ClientOptions } from 'ws';
import { buildConfig } from '../../src/config/build.js';
import { createLogger } from '../../src/observability/logger.js';
import { Gateway } from '../../src/server/gateway.js';

export * from './data.js';
export * from './frames.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../../bin/wsgate.js', import.meta.url));

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
