// The HTTP API resolver against a real HTTP server on loopback: JSON and
// text replies, misses, API failures, a slow API cut off by the signal, an
// API that is down, POST with headers, and the bounded connection pool.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { makeResolver, within } from './support/resolvers.js';
import { StoreError, type TargetResolver } from '../src/proxy/resolvers/types.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** An HTTP server on 127.0.0.1:<ephemeral> that counts its connections (all, and at most at once). */
async function api(t: TestContext, handler: Handler) {
  const stats = { connections: 0, open: 0, maxOpen: 0, requests: [] as Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      stats.requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', (socket: net.Socket) => {
    stats.connections++;
    stats.maxOpen = Math.max(stats.maxOpen, ++stats.open);
    socket.on('close', () => stats.open--);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { base: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, stats };
}

async function httpResolver(t: TestContext, block: Record<string, unknown>): Promise<TargetResolver> {
  const resolver = await makeResolver({ type: 'http', ...block });
  t.after(() => resolver.close());
  return resolver;
}

function reply(res: http.ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type }).end(body);
}

test('http: JSON and host:port replies, token in the path or the query, misses', { timeout: 10_000 }, async (t) => {
  const { base, stats } = await api(t, (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const token = url.pathname.startsWith('/t/') ? decodeURIComponent(url.pathname.slice(3)) : url.searchParams.get('token');
    if (token === 'json a/b ü') reply(res, 200, JSON.stringify({ host: '10.0.0.7', port: 5901, user: 'bob', skip: null }));
    else if (token === 'websockify') reply(res, 200, '{"host": "127.0.0.1:5902"}');
    else if (token === 'text') reply(res, 200, '[::1]:5903\n', 'text/plain');
    else if (token === 'gone') reply(res, 410, '');
    else if (token === 'forbidden') reply(res, 403, 'no');
    else reply(res, 404, '{"error":"unknown"}');
  });
  const byPath = await httpResolver(t, { url: `${base}/t/%s` });
  assert.equal(byPath.kind, 'http');
  assert.deepEqual(await byPath.resolve('json a/b ü', within()), { host: '10.0.0.7', port: 5901, params: { host: '10.0.0.7', port: '5901', user: 'bob' } });
  assert.equal(stats.requests.at(-1)?.url, `/t/${encodeURIComponent('json a/b ü')}`);
  assert.equal((await byPath.resolve('websockify', within()))?.port, 5902);
  const braces = await httpResolver(t, { url: `${base}/t/{token}?v=1` });
  assert.equal((await braces.resolve('text', within()))?.host, '::1');
  const byQuery = await httpResolver(t, { url: `${base}/lookup?v=1` });
  assert.deepEqual(await byQuery.resolve('text', within()), { host: '::1', port: 5903, params: {} });
  assert.equal(stats.requests.at(-1)?.url, '/lookup?v=1&token=text');
  for (const miss of ['nope', 'gone', 'forbidden']) assert.equal(await byQuery.resolve(miss, within()), null, miss);
});

test('http: API failures are StoreErrors: 500, 401, bad JSON, no host, not a target', { timeout: 10_000 }, async (t) => {
  const { base } = await api(t, (req, res) => {
    const token = new URL(req.url!, 'http://x').searchParams.get('token');
    if (token === 'e500') reply(res, 500, 'oops');
    else if (token === 'e401') reply(res, 401, '');
    else if (token === 'badjson') reply(res, 200, '{"host": "h", ');
    else if (token === 'nohost') reply(res, 200, '{"port": 1}');
    else if (token === 'huge') reply(res, 200, `{"host": "h", "port": 1, "pad": "${'x'.repeat(100_000)}"}`);
    else reply(res, 200, 'hello', 'text/plain');
  });
  const r = await httpResolver(t, { url: `${base}/lookup` });
  const cases: Array<[string, RegExp]> = [['e500', /HTTP 500/], ['e401', /HTTP 401/], ['badjson', /invalid JSON/], ['nohost', /without a usable host/], ['huge', /larger than/], ['text', /neither JSON nor host:port/]];
  for (const [token, why] of cases) {
    await assert.rejects(r.resolve(token, within()), (err: Error) => err instanceof StoreError && why.test(err.message), token);
  }
});

test('http: a slow API is cut off when the signal aborts; the request is abandoned', { timeout: 10_000 }, async (t) => {
  let serverSawClose: () => void;
  const closed = new Promise<void>((resolve) => (serverSawClose = resolve));
  const { base } = await api(t, (req) => req.socket.once('close', () => serverSawClose())); // never answers
  const r = await httpResolver(t, { url: `${base}/slow/%s` });
  const started = Date.now();
  await assert.rejects(r.resolve('tok', within(200)), (err: Error) => err instanceof StoreError && /aborted/.test(err.message));
  const took = Date.now() - started;
  assert.ok(took >= 150 && took < 1000, `rejected after ${took} ms`);
  await closed;
});

test('http: an API that is down → StoreError', { timeout: 10_000 }, async (t) => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const r = await httpResolver(t, { url: `http://127.0.0.1:${port}/lookup` });
  await assert.rejects(r.resolve('tok', within()), (err: Error) => err instanceof StoreError && /ECONNREFUSED/.test(err.message));
});

test('http: POST sends {"token"} with the configured headers', { timeout: 10_000 }, async (t) => {
  const { base, stats } = await api(t, (req, res, body) => {
    const { token } = JSON.parse(body) as { token: string };
    if (req.method !== 'POST' || req.headers.authorization !== 'Bearer s3cret') reply(res, 401, '');
    else if (token === 'known') reply(res, 200, '{"host": "127.0.0.1", "port": "5901", "user": "eve"}');
    else reply(res, 404, '');
  });
  const r = await httpResolver(t, { url: `${base}/lookup`, method: 'POST', headers: { Authorization: 'Bearer s3cret' } });
  assert.equal((await r.resolve('known', within()))?.params?.user, 'eve');
  assert.equal(await r.resolve('unknown', within()), null);
  const last = stats.requests.at(-1)!;
  assert.deepEqual([last.url, last.headers['content-type'], JSON.parse(last.body)], ['/lookup', 'application/json', { token: 'unknown' }]);
  const noAuth = await httpResolver(t, { url: `${base}/lookup`, method: 'POST' });
  await assert.rejects(noAuth.resolve('known', within()), /HTTP 401/);
});

test('http: 50 parallel lookups never open more than maxSockets connections', { timeout: 20_000 }, async (t) => {
  const { base, stats } = await api(t, (req, res) => {
    const token = new URL(req.url!, 'http://x').searchParams.get('token')!;
    setTimeout(() => reply(res, 200, JSON.stringify({ host: '127.0.0.1', port: Number(token) })), 10);
  });
  const r = await httpResolver(t, { url: `${base}/lookup`, maxSockets: 4 });
  const ports = await Promise.all(Array.from({ length: 50 }, (_, i) => r.resolve(String(1000 + i), within(10_000))));
  assert.deepEqual(ports.map((p) => p?.port), Array.from({ length: 50 }, (_, i) => 1000 + i));
  assert.ok(stats.maxOpen <= 4, `at most 4 at once (saw ${stats.maxOpen})`);
  assert.ok(stats.connections <= 4, `connections are kept alive and reused (opened ${stats.connections})`);
  // Lookups queued behind a busy pool still honour their signal.
  const queued = Array.from({ length: 8 }, () => r.resolve('2000', within(1)));
  for (const q of queued) await assert.rejects(q, StoreError);
});
