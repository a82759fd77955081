// Session limits before the 101, on real sockets: the N+1th session is
// refused per route (503), per client address on a route and over every
// route (429), per token on a tcp-proxy route with a resolver (429, and the
// backend is never dialed for it); new sessions per second per address
// (429 with Retry-After). A place is given back when a session ends, and
// every refusal leaves the gateway up and empty.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import { closed, connect, sessionsDrained, startBackend, startGateway, tempDir, until, type RunningGateway } from './support/index.js';
import { answerOf, health } from './support/edge.js';

async function gateway(t: TestContext, raw: Record<string, unknown>): Promise<RunningGateway> {
  const gw = await startGateway(raw);
  t.after(async () => {
    await gw.stop();
  });
  return gw;
}

async function closeAll(gw: RunningGateway, sockets: WebSocket[]): Promise<void> {
  for (const ws of sockets) ws.close();
  await Promise.all(sockets.map((ws) => closed(ws)));
  await sessionsDrained(gw.gateway);
  assert.equal((await health(gw.port)).body.status, 'ok');
}

test('maxSessions on a route: the N+1th is refused with 503 and Retry-After; another route is not counted; a closed session frees its place', async (t) => {
  const gw = await gateway(t, { routes: [{ path: '/a', handler: 'echo', maxSessions: 2 }, { path: '/b', handler: 'echo' }] });
  const open = [await connect(gw.url('/a')), await connect(gw.url('/a'))];
  const refused = await answerOf(gw.url('/a'));
  assert.equal(refused.status, 503);
  assert.equal(refused.headers['retry-after'], '5');
  open.push(await connect(gw.url('/b')));
  open[0]!.close();
  await closed(open[0]!);
  await until(async () => (await answerOf(gw.url('/a'))).status === 101, { timeoutMs: 3000, what: 'the freed place' });
  await closeAll(gw, open.slice(1));
});

test('maxSessionsPerAddress: per route, and at the top level over every route; another address has its own count', async (t) => {
  const gw = await gateway(t, {
    maxSessionsPerAddress: 3,
    routes: [{ path: '/a', handler: 'echo', maxSessionsPerAddress: 1 }, { path: '/b', handler: 'echo' }],
  });
  const open = [await connect(gw.url('/a'))];
  assert.equal((await answerOf(gw.url('/a'))).status, 429, 'the route allows one per address');
  open.push(await connect(gw.url('/a'), undefined, { localAddress: '127.0.0.2' }));
  open.push(await connect(gw.url('/b')), await connect(gw.url('/b')));
  assert.equal((await answerOf(gw.url('/b'))).status, 429, 'three per address over both routes');
  open.push(await connect(gw.url('/b'), undefined, { localAddress: '127.0.0.2' }));
  await closeAll(gw, open);
  // Every place came back: the same sessions open again.
  const again = [await connect(gw.url('/a')), await connect(gw.url('/b')), await connect(gw.url('/b'))];
  await closeAll(gw, again);
});

test('maxSessionsPerToken on a tcp-proxy route with a resolver: the N+1th session of a token is refused with 429 before any dial', async (t) => {
  let dials = 0;
  const backend = await startBackend((s) => (dials++, s.pipe(s)));
  t.after(() => backend.close());
  const dir = tempDir(t, 'limits');
  const tokens = join(dir, 'tokens.cfg');
  await writeFile(tokens, `one: 127.0.0.1:${backend.port}\ntwo: 127.0.0.1:${backend.port}\n`);
  const gw = await gateway(t, { routes: [{ path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'file', path: tokens }, allow: ['127.0.0.1'], maxSessionsPerToken: 2 }] });
  const open = [await connect(gw.url('/vnc?token=one')), await connect(gw.url('/vnc?token=one'))];
  assert.equal((await answerOf(gw.url('/vnc?token=one'))).status, 429);
  assert.equal(dials, 2, 'no backend connection for the refused session');
  open.push(await connect(gw.url('/vnc?token=two')));
  open[0]!.close();
  await closed(open[0]!);
  await until(async () => (await answerOf(gw.url('/vnc?token=one'))).status === 101, { timeoutMs: 3000, what: 'the freed place' });
  await closeAll(gw, open.slice(1));
});

test('maxSessionsPerToken: a failed dial gives the place back', async (t) => {
  const dir = tempDir(t, 'limits');
  const tokens = join(dir, 'tokens.cfg');
  await writeFile(tokens, 'dead: 127.0.0.1:9\n');
  const gw = await gateway(t, { routes: [{ path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'file', path: tokens }, allow: ['127.0.0.1'], maxSessionsPerToken: 1 }] });
  for (let i = 0; i < 3; i++) assert.equal((await answerOf(gw.url('/vnc?token=dead'))).status, 502);
});

test('rateLimit: a burst at once, then 429 with Retry-After for that address; other addresses are not slowed', async (t) => {
  const gw = await gateway(t, { routes: [{ path: '/a', handler: 'echo', rateLimit: { perAddress: 1, burst: 2 } }] });
  const open = [await connect(gw.url('/a')), await connect(gw.url('/a'))];
  const limited = await answerOf(gw.url('/a'));
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '1');
  open.push(await connect(gw.url('/a'), undefined, { localAddress: '127.0.0.2' }));
  await until(async () => (await answerOf(gw.url('/a'))).status === 101, { timeoutMs: 3000, everyMs: 250, what: 'a token after a second' });
  await closeAll(gw, open);
});

test('rateLimit at the top level counts over every route', async (t) => {
  const gw = await gateway(t, { rateLimit: { perAddress: 0.5, burst: 2 }, routes: [{ path: '/a', handler: 'echo' }, { path: '/b', handler: 'echo' }] });
  const open = [await connect(gw.url('/a')), await connect(gw.url('/b'))];
  const limited = await answerOf(gw.url('/b'));
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '2');
  await closeAll(gw, open);
});
