// Pieces for cluster hand-off tests: a SQLite table in the original module's
// shape, gateways and cluster proxies that log to files the test can read,
// an echo node, and the two ends of version 1 written from the specification
// alone (independent of src/), to check wsgate against.
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { buildConfig } from '../../src/config/build.js';
import { createLogger } from '../../src/observability/logger.js';
import { Gateway } from '../../src/server/gateway.js';
import { buildClusterProxyConfig } from '../../src/proxy/cluster-proxy/config.js';
import { ClusterProxy } from '../../src/proxy/cluster-proxy/server.js';
import { REPO_ROOT } from './paths.js';
import { startBackend } from './backend.js';
import { sha256 } from './hash.js';
import { tempDir } from './temp-dir.js';

export const SECRET = 'cluster secret: do not log';

/** A temp folder with the secret in `secret`, removed when the test ends. */
export function workdir(t: TestContext): { dir: string; secretFile: string } {
  const dir = tempDir(t, 'cluster');
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, `${SECRET}\n`);
  return { dir, secretFile };
}

export interface VncRow {
  key: string;
  nodehost?: string | null;
  nodeport?: number | null;
  connecthost: string;
  connectport: number;
  note?: string | null;
}

/** The original module's table in a SQLite file, and the route's resolver block that reads it. */
export function vncDatabase(dir: string, rows: VncRow[], extraColumns: string[] = []): Record<string, unknown> {
  const path = join(dir, `vnc-${Math.random().toString(16).slice(2)}.db`);
  const db = new Database(path);
  const extra = extraColumns.map((c) => `, "${c}" TEXT`).join('');
  db.exec(`CREATE TABLE vnc (vnckey TEXT, nodehost TEXT, nodeport INTEGER, connecthost TEXT, connectport INTEGER, note TEXT${extra})`);
  const insert = db.prepare('INSERT INTO vnc (vnckey, nodehost, nodeport, connecthost, connectport, note) VALUES (?, ?, ?, ?, ?, ?)');
  for (const r of rows) insert.run(r.key, r.nodehost ?? null, r.nodeport ?? null, r.connecthost, r.connectport, r.note ?? null);
  db.close();
  const columns = ['nodehost', 'nodeport', 'connecthost', 'connectport', 'note', ...extraColumns.map((c) => `"${c}"`)].join(', ');
  return { type: 'sqlite', path, query: `SELECT ${columns} FROM vnc WHERE vnckey = %s` };
}

/** JSON log lines written to a file so far. */
export function logLines(file: string): Array<Record<string, unknown>> {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A gateway in this process, logging at debug level to `<dir>/gateway.log`. */
export async function loggedGateway(t: TestContext, dir: string, routes: unknown[]): Promise<{ port: number; url(path: string): string; log: string; gateway: Gateway }> {
  const log = join(dir, `gateway-${Math.random().toString(16).slice(2)}.log`);
  const config = buildConfig({ listen: '127.0.0.1:0', routes }, () => undefined, REPO_ROOT);
  const gateway = new Gateway(config, createLogger('debug', log));
  const [address] = await gateway.start();
  t.after(() => gateway.stop(0));
  return { port: address!.port, url: (path) => `ws://127.0.0.1:${address!.port}${path}`, log, gateway };
}

/** wsgate's cluster proxy in this process on 127.0.0.1:<ephemeral>, logging to a file. */
export async function loggedClusterProxy(t: TestContext, dir: string, raw: Record<string, unknown>): Promise<{ port: number; log: string; proxy: ClusterProxy }> {
  const log = join(dir, `proxy-${Math.random().toString(16).slice(2)}.log`);
  const config = buildClusterProxyConfig({ listen: '127.0.0.1:0', secretFile: join(dir, 'secret'), ...raw }, () => undefined, dir);
  const proxy = new ClusterProxy(config, createLogger('debug', log));
  const address = await proxy.start();
  t.after(() => proxy.stop());
  return { port: address.port, log, proxy };
}

/** A node that echoes every byte and half-closes when its peer does; `peers` records who connected. */
export async function echoNode(t: TestContext): Promise<{ port: number; peers: string[] }> {
  const peers: string[] = [];
  const node = await startBackend((s: net.Socket) => {
    peers.push(s.remoteAddress!);
    s.pipe(s);
  });
  t.after(() => node.close());
  return { port: node.port, peers };
}

// ---- Version 1, from the specification alone ----

function header(magic: number, version: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(magic, 0);
  b.writeUInt16BE(version, 4);
  b.writeUInt16BE(length, 6);
  return b;
}

/** Reads exactly n bytes from a socket (rejects on EOF first). */
export function readExactly(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < n) return;
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.pause();
      if (got.length > n) socket.unshift(got.subarray(n));
      resolve(got.subarray(0, n));
    };
    const onEnd = () => reject(new Error(`EOF after ${got.length} of ${n} bytes`));
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.resume();
  });
}

export interface SpecDocument {
  key: string;
  hash: string;
  params: Array<[string, string]>;
  /** The hash recomputed with the shared secret matched. */
  valid: boolean;
}

/**
 * A version 1 cluster proxy written from the description of the original:
 * greets with `nonce` + CRLF, reads the XML document, recomputes the hash,
 * and on a match echoes the rest of the stream itself (it is its own node).
 */
export async function specProxyV1(t: TestContext, secret: string): Promise<{ port: number; documents: SpecDocument[] }> {
  const documents: SpecDocument[] = [];
  const server = net.createServer(async (socket) => {
    socket.on('error', () => {});
    const nonce = `n${Math.random().toString(36).slice(2)}${Date.now()}`;
    socket.write(Buffer.concat([header(0x564e4321, 1, nonce.length + 2), Buffer.from(`${nonce}\r\n`)]));
    try {
      const head = await readExactly(socket, 8);
      if (head.readUInt32BE(0) !== 0xab15ab1e || head.readUInt16BE(4) !== 1) throw new Error('bad header');
      const xml = (await readExactly(socket, head.readUInt16BE(6))).toString('utf8');
      const m = /^<vncconnection><key>(.*?)<\/key><hash>([0-9a-f]{64})<\/hash><params>(.*)<\/params><\/vncconnection>$/s.exec(xml);
      if (!m) throw new Error(`not a document: ${xml}`);
      const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      const params: Array<[string, string]> = [];
      const re = /<([^>\/]+)>([^<]*)<\/\1>/g;
      for (let p = re.exec(m[3]!); p; p = re.exec(m[3]!)) params.push([p[1]!, unescape(p[2]!)]);
      const key = unescape(m[1]!);
      const text = `${key} ${secret} ${nonce}${params.map(([n, v]) => ` ${n} ${v}`).join('')}`;
      const valid = sha256(text) === m[2];
      documents.push({ key, hash: m[2]!, params, valid });
      if (!valid) return socket.destroy();
      socket.pipe(socket);
    } catch {
      socket.destroy();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, documents };
}

/**
 * A version 1 gateway written from the description: connects, reads the
 * greeting, sends the document for `key` and `params`, and returns the
 * socket, from then on a plain stream to the node.
 */
export async function specGatewayV1(port: number, key: string, secret: string, params: Array<[string, string]>, host = '127.0.0.1'): Promise<net.Socket> {
  const socket = net.connect({ port, host, allowHalfOpen: true });
  await once(socket, 'connect');
  const head = await readExactly(socket, 8);
  if (head.readUInt32BE(0) !== 0x564e4321 || head.readUInt16BE(4) !== 1) throw new Error('bad greeting');
  const payload = await readExactly(socket, head.readUInt16BE(6));
  const nonce = payload.toString('latin1').split(/[\s]/)[0]!;
  const text = `${key} ${secret} ${nonce}${params.map(([n, v]) => ` ${n} ${v}`).join('')}`;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const xml = Buffer.from(`<vncconnection><key>${esc(key)}</key><hash>${sha256(text)}</hash><params>${params.map(([n, v]) => `<${n}>${esc(v)}</${n}>`).join('')}</params></vncconnection>`);
  socket.write(Buffer.concat([header(0xab15ab1e, 1, xml.length), xml]));
  return socket;
}
