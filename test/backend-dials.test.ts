// Backends that punish early hang-ups (TigerVNC blocks an address after 5
// connections that close before authenticating): every handshake wsgate
// refuses is refused before the backend is dialed, so a refused client never
// costs a backend connection. Counted at the backend.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, startBackend, rawRequest, upgradeRequest, connect, closed, sessionsDrained, until, type RunningGateway } from './support/index.js';
import { dial } from '../src/proxy/dial.js';

let gw: RunningGateway;
let backend: Awaited<ReturnType<typeof startBackend>>;
let dials = 0;

before(async () => {
  backend = await startBackend((s) => {
    dials++;
    s.pipe(s);
  });
  gw = await startGateway({
    routes: [{ path: '/vnc', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, perMessageDeflate: true }],
  });
});
after(async () => {
  await gw.stop();
  await backend.close();
});

const status = (response: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? 0);

test('refused handshakes never reach the backend', { timeout: 20_000 }, async () => {
  const cases: Array<[string, string, number]> = [
    ['malformed Sec-WebSocket-Key', upgradeRequest('/vnc', [], { 'Sec-WebSocket-Key': 'not-a-key' }), 400],
    ['no Sec-WebSocket-Key', upgradeRequest('/vnc', [], { 'Sec-WebSocket-Key': null }), 400],
    ['Sec-WebSocket-Version 7', upgradeRequest('/vnc', [], { 'Sec-WebSocket-Version': '7' }), 426],
    ['Upgrade: h2c', upgradeRequest('/vnc', [], { Upgrade: 'h2c' }), 400],
    ['POST with Upgrade', upgradeRequest('/vnc').replace(/^GET/, 'POST'), 405],
    ['only unknown subprotocols', upgradeRequest('/vnc', ['Sec-WebSocket-Protocol: chat']), 400],
    ['a repeated subprotocol', upgradeRequest('/vnc', ['Sec-WebSocket-Protocol: binary, binary']), 400],
    ['an unparsable extension offer', upgradeRequest('/vnc', ['Sec-WebSocket-Extensions: permessage-deflate; ;']), 400],
    ['an unacceptable deflate offer', upgradeRequest('/vnc', ['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99']), 400],
    ['an unknown path', upgradeRequest('/other'), 404],
    ['a plain GET of the route', 'GET /vnc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 426],
    ['a health check', 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 200],
  ];
  for (const [what, request, expected] of cases) {
    assert.equal(status(await rawRequest(gw.port, request)), expected, what);
  }
  await sleep(100); // a dial, had there been one, has long been accepted by now
  assert.equal(dials, 0, 'the backend was dialed for a refused handshake');

  // The counter counts: one accepted session (offering compression) is one backend connection.
  const ws = await connect(gw.url('/vnc'), 'binary', { perMessageDeflate: true });
  assert.match(ws.extensions, /permessage-deflate/);
  ws.close(1000);
  await closed(ws);
  assert.equal(dials, 1);
});

test('a backend that resets right after the connect: no uncaught error, the session ends with 1011', { timeout: 20_000 }, async (t) => {
  const resetting = await startBackend((socket) => socket.resetAndDestroy());
  t.after(() => resetting.close());
  // dial() alone: the reset arrives after it resolved and before any relay listens.
  const later = await startBackend((socket) => setTimeout(() => socket.resetAndDestroy(), 50));
  t.after(() => later.close());
  const connection = await dial({ host: '127.0.0.1', port: later.port }, { timeoutMs: 2000, keepAliveMs: 0, noDelay: true });
  await until(() => connection.earlyError, { timeoutMs: 5000, what: 'the reset to be seen' });
  assert.equal(connection.earlyError!.code, 'ECONNRESET');
  // Through the gateway, many times: each client gets a 502 or a session that closes with 1011, never a hang.
  const gw = await startGateway({ routes: [{ path: '/r', handler: 'tcp-proxy', target: `127.0.0.1:${resetting.port}` }] });
  t.after(() => gw.stop());
  for (let i = 0; i < 20; i++) {
    try {
      const ws = await connect(gw.url('/r'));
      const { code } = await closed(ws);
      assert.ok(code === 1011 || code === 1000, `closed with ${code}`);
    } catch (e) {
      assert.equal((e as { status?: number }).status, 502);
    }
  }
  await sessionsDrained(gw.gateway);
});
