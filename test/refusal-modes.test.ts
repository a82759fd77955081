// How a refusal is told (`refuse: http | close | auto`), on real sockets:
// close mode completes the handshake and closes at once with a code and a
// reason the client shows (1008 token, 1011 backend, 1013 too many), with no
// backend dialed and no session; auto does that for requests with an Origin
// (browsers) and answers the others with the HTTP status; Origin and
// authentication refusals stay 403/401 in every mode. Logs and metrics
// count each refusal by its status, and nothing is left behind.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocket, type ClientOptions } from 'ws';
import { closed, connect, rawWebSocket, sessionsDrained, startBackend, startGateway, tempDir, type RunningGateway } from './support/index.js';
import { answerOf, health } from './support/edge.js';
import { scrape } from './support/prometheus.js';

interface Told {
  /** 101 when told by a close frame. */
  status: number;
  code?: number;
  reason?: string;
  protocol?: string;
}

/** What a client learns of a refusal: the HTTP status, or the 101 and the close frame that follows. */
function told(url: string, options: ClientOptions = {}, protocols?: string[]): Promise<Told> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      resolve({ status: res.statusCode! });
    });
    ws.once('open', () => {
      ws.once('close', (code, reason) => resolve({ status: 101, code, reason: reason.toString(), protocol: ws.protocol }));
      ws.once('message', () => reject(new Error('a refused session sent data')));
    });
    ws.once('error', (e) => void (ws.readyState !== WebSocket.CLOSED && reject(e)));
  });
}

async function setup(t: TestContext, routeExtra: Record<string, unknown>) {
  let dials = 0;
  const backend = await startBackend((s) => (dials++, s.pipe(s)));
  t.after(() => backend.close());
  const dir = tempDir(t, 'refusal');
  const tokens = join(dir, 'tokens.cfg');
  await writeFile(tokens, `good: 127.0.0.1:${backend.port}\ndead: 127.0.0.1:9\n`);
  const gw = await startGateway({
    metricsPath: '/metrics',
    routes: [
      { path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'file', path: tokens }, allow: ['127.0.0.1'], ...routeExtra },
      { path: '/one', handler: 'echo', maxSessions: 1, ...routeExtra },
      { path: '/locked', handler: 'echo', auth: [{ type: 'basic', user: 'u', password: 'p' }], ...routeExtra },
    ],
  });
  t.after(() => gw.stop());
  return { gw, dials: () => dials };
}

async function assertNothingLeft(gw: RunningGateway): Promise<void> {
  await sessionsDrained(gw.gateway);
  assert.equal(gw.gateway.registry.size, 0);
  assert.equal((await health(gw.port)).body.status, 'ok');
}

const browser = { origin: 'http://127.0.0.1' }; // same-host: passes the default Origin check

test('refuse: close: the 101, then 1008 / 1011 / 1013 with a reason; no backend dialed, no session; counted by HTTP status', async (t) => {
  const { gw, dials } = await setup(t, { refuse: 'close' });
  assert.deepEqual(await told(gw.url('/vnc?token=nope')), { status: 101, code: 1008, reason: 'unknown or expired token', protocol: '' });
  assert.deepEqual(await told(gw.url('/vnc?token=dead')), { status: 101, code: 1011, reason: 'backend unreachable', protocol: '' });
  const holder = await connect(gw.url('/one'));
  assert.deepEqual(await told(gw.url('/one'), browser), { status: 101, code: 1013, reason: 'too many sessions', protocol: '' });
  holder.close();
  await closed(holder);
  assert.equal(dials(), 0, 'no backend was dialed for a refused session');
  // A client that offers subprotocols gets one of them named in the 101 (browsers fail a handshake without).
  assert.deepEqual(await told(gw.url('/vnc?token=nope'), {}, ['binary', 'base64']), { status: 101, code: 1008, reason: 'unknown or expired token', protocol: 'binary' });
  // The session that is accepted still works.
  const ok = await connect(gw.url('/vnc?token=good'));
  ok.close();
  await closed(ok);
  const m = await scrape(gw.port);
  assert.equal(m.value('wsgate_handshakes_refused_total', 'status="403"'), 2);
  assert.equal(m.value('wsgate_handshakes_refused_total', 'status="502"'), 1);
  assert.equal(m.value('wsgate_handshakes_refused_total', 'status="503"'), 1);
  assert.equal(m.value('wsgate_sessions_opened_total', 'route="/vnc"'), 1, 'refusals are not sessions');
  await assertNothingLeft(gw);
});

test('Origin and authentication refusals stay HTTP 403 / 401 on a close-mode route', async (t) => {
  const { gw } = await setup(t, { refuse: 'close' });
  assert.deepEqual(await told(gw.url('/vnc?token=good'), { origin: 'https://evil.example' }), { status: 403 });
  const auth = await answerOf(gw.url('/locked'), browser);
  assert.equal(auth.status, 401);
  assert.equal(auth.headers['www-authenticate'], 'Basic realm="wsgate"');
  await assertNothingLeft(gw);
});

test('refuse: auto (the default): a close frame for requests with an Origin (browsers), the HTTP status for the others; http: always the status', async (t) => {
  const { gw } = await setup(t, {});
  assert.deepEqual(await told(gw.url('/vnc?token=nope'), browser), { status: 101, code: 1008, reason: 'unknown or expired token', protocol: '' });
  assert.deepEqual(await told(gw.url('/vnc?token=nope')), { status: 403 });
  assert.deepEqual(await told(gw.url('/vnc?token=dead')), { status: 502 });
  await assertNothingLeft(gw);

  const http = await setup(t, { refuse: 'http' });
  assert.deepEqual(await told(http.gw.url('/vnc?token=nope'), browser), { status: 403 });
  assert.deepEqual(await told(http.gw.url('/vnc?token=dead'), browser), { status: 502 });
  await assertNothingLeft(http.gw);
});

test('on the guacamole subprotocol the close reason is the numeric Guacamole status, with the close code Guacamole pairs with it', async (t) => {
  const { gw } = await setup(t, { refuse: 'close' });
  const holder = await connect(gw.url('/one'));
  assert.deepEqual(await told(gw.url('/one'), {}, ['guacamole']), { status: 101, code: 1008, reason: String(0x031d), protocol: 'guacamole' }, 'CLIENT_TOO_MANY');
  holder.close();
  await closed(holder);
  await assertNothingLeft(gw);
});

test('a refused client that never answers the close is dropped after closeTimeout', async (t) => {
  const { gw } = await setup(t, { refuse: 'close', closeTimeout: 0.3 });
  const raw = await rawWebSocket(gw.port, '/vnc?token=nope');
  const frame = await raw.nextFrame();
  assert.equal(frame.opcode, 0x8);
  assert.equal(frame.payload.readUInt16BE(0), 1008);
  const started = Date.now();
  await raw.ended; // we never send our close frame
  assert.ok(Date.now() - started < 3000, `dropped after ${Date.now() - started} ms`);
  await assertNothingLeft(gw);
});
