// --metrics-path: Prometheus metrics of sessions, traffic, closes and
// refusals per route, from the real CLI. (Merging across --workers is in
// processes.test.ts.)
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import { closed, connect, handshakeStatus, rawRequest, spawnCli, startBackend, tempDir, upgradeRequest, until } from './support/index.js';
import { scrape, type Scrape } from './support/prometheus.js';

async function gatewayWith(t: TestContext, yaml: string): Promise<{ port: number; backendSockets: Set<import('node:net').Socket> }> {
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const dir = tempDir(t, 'metrics');
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml.replaceAll('BACKEND', `127.0.0.1:${backend.port}`));
  const cli = await spawnCli(['--config', file]);
  t.after(() => cli.child.kill('SIGKILL'));
  return { port: cli.port, backendSockets: backend.sockets };
}

async function echoes(ws: WebSocket, data: Buffer): Promise<void> {
  const reply = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
  ws.send(data);
  assert.deepEqual(await reply, data);
}

/** Scrapes until `ok` holds (the gateway counts a close when its side of the close is done), 5 s at most. */
async function scrapeUntil(port: number, ok: (s: Scrape) => boolean): Promise<Scrape> {
  let last: Scrape | undefined;
  const check = async () => {
    last = await scrape(port);
    return ok(last) ? last : undefined;
  };
  return until(check, { timeoutMs: 5000, everyMs: 20, what: () => `the awaited sample; last scrape:\n${last?.text}` });
}

const ROUTES = `
listen: 127.0.0.1:0
metricsPath: /metrics
routes:
  - path: /echo
    handler: echo
  - path: /vnc
    handler: tcp-proxy
    target: BACKEND
`;

test('--metrics-path: open sessions, bytes and messages each way, closes by side and refusals by status, per route', { timeout: 30_000 }, async (t) => {
  const { port, backendSockets } = await gatewayWith(t, ROUTES);
  const before = await scrape(port);
  assert.equal(before.status, 200);
  assert.match(before.contentType, /^text\/plain; version=0\.0\.4/);
  for (const route of ['/echo', '/vnc']) {
    assert.equal(before.value('wsgate_sessions', `route="${route}"`), 0, 'every route has its series from the start');
    assert.equal(before.value('wsgate_sessions_opened_total', `route="${route}"`), 0);
  }
  assert.ok(before.value('process_cpu_seconds_total')! > 0, "Node's process metrics are there too");

  const echo = await connect(`ws://127.0.0.1:${port}/echo`);
  t.after(() => echo.terminate());
  const vnc = await connect(`ws://127.0.0.1:${port}/vnc?token=secret-value`, 'binary');
  t.after(() => vnc.terminate());
  await echoes(echo, Buffer.from('hello'));
  await echoes(echo, Buffer.from('again'));
  await echoes(vnc, Buffer.alloc(1000, 7));
  assert.equal(await handshakeStatus(`ws://127.0.0.1:${port}/nowhere`), 404);
  assert.match(await rawRequest(port, upgradeRequest('/echo', [], { 'Sec-WebSocket-Version': '7' })), /^HTTP\/1.1 426 /);

  const live = await scrape(port);
  assert.equal(live.value('wsgate_sessions', 'route="/echo"'), 1);
  assert.equal(live.value('wsgate_sessions', 'route="/vnc"'), 1);
  assert.equal(live.value('wsgate_bytes_total', 'route="/echo",direction="in"'), 10, 'live sessions count before they end');
  assert.equal(live.value('wsgate_bytes_total', 'route="/echo",direction="out"'), 10);
  assert.equal(live.value('wsgate_messages_total', 'route="/echo",direction="in"'), 2);
  assert.equal(live.value('wsgate_bytes_total', 'route="/vnc",direction="in"'), 1000);
  assert.equal(live.value('wsgate_handshakes_refused_total', 'status="404"'), 1);
  assert.equal(live.value('wsgate_handshakes_refused_total', 'status="426"'), 1);
  assert.ok(!live.text.includes('secret-value') && !live.text.includes('nowhere'), 'no query strings or client-chosen paths in labels');

  const gone = closed(echo);
  echo.close(1000);
  await gone;
  const after = await scrapeUntil(port, (s) => s.value('wsgate_sessions', 'route="/echo"') === 0);
  assert.equal(after.value('wsgate_sessions', 'route="/echo"'), 0);
  assert.equal(after.value('wsgate_sessions_closed_total', 'route="/echo",closed_by="client"'), 1);
  assert.equal(after.value('wsgate_sessions_closed_total', 'route="/echo",closed_by="server"'), 0);
  assert.equal(after.value('wsgate_session_duration_seconds_count', 'route="/echo"'), 1);
  assert.equal(after.value('wsgate_bytes_total', 'route="/echo",direction="in"'), 10, 'an ended session keeps counting in the totals');
  assert.equal(after.value('wsgate_sessions_opened_total', 'route="/echo"'), 1);
  assert.equal(after.value('wsgate_sessions', 'route="/vnc"'), 1);

  // The backend hangs up: the gateway closes the session.
  const vncGone = closed(vnc);
  for (const s of backendSockets) s.destroy();
  await vncGone;
  const end = await scrapeUntil(port, (s) => s.value('wsgate_sessions', 'route="/vnc"') === 0);
  assert.equal(end.value('wsgate_sessions_closed_total', 'route="/vnc",closed_by="server"'), 1, end.text);
  assert.equal(end.value('wsgate_bytes_total', 'route="/vnc",direction="out"'), 1000);
});

test('--metrics-path: scrapes close together stay well-formed; HEAD answers the headers', { timeout: 20_000 }, async (t) => {
  const { port } = await gatewayWith(t, ROUTES);
  const scrapes = await Promise.all([scrape(port), scrape(port), scrape(port)]);
  const again = await scrape(port);
  for (const s of [...scrapes, again]) {
    assert.equal(s.status, 200);
    for (const line of s.text.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, / -?\d+(\.\d+)?(e[-+]\d+)?$/, `not a finite number: ${line}`);
    assert.ok(s.value('wsgate_event_loop_busy_seconds_total')! > 0);
  }
  const head = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/metrics', method: 'HEAD', agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(head.status, 200);
  assert.match(head.type, /^text\/plain; version=0\.0\.4/);
  assert.equal(head.body, '');
});

test('without --metrics-path nothing is served at /metrics', { timeout: 20_000 }, async (t) => {
  const { port } = await gatewayWith(t, ROUTES.replace('metricsPath: /metrics\n', ''));
  assert.equal((await scrape(port)).status, 404);
});

test('--metrics-path on the command line, websockify form: the catch-all route is labelled "*"', { timeout: 20_000 }, async (t) => {
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const cli = await spawnCli(['--metrics-path', '/stats', '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => cli.child.kill('SIGKILL'));
  const ws = await connect(`ws://127.0.0.1:${cli.port}/anything`, 'binary');
  t.after(() => ws.terminate());
  const s = await scrape(cli.port, '/stats');
  assert.equal(s.value('wsgate_sessions', 'route="*"'), 1);
});
