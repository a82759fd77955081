// The admin API and its CLI clients: the session list (table and JSON), closing
// one session (the client sees the code and reason), drain with sessions
// running, reload; the token rule (trustLoopback: false makes loopback show
// it too); under --workers 2 the primary gathers and forwards, on its own
// listener and under admin.path of the main port; config errors.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { closed, connect, handshakeStatus, runCli, spawnCli, startBackend, tempDir, until } from './support/index.js';

type Cli = Awaited<ReturnType<typeof spawnCli>>;

async function start(t: TestContext, admin: string, extra: string[] = []) {
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const dir = tempDir(t, 'admin');
  const file = join(dir, 'wsgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0\nadmin:\n${admin}routes:\n  - path: /a\n    handler: tcp-proxy\n    target: 127.0.0.1:${backend.port}\n`);
  const cli = await spawnCli(['--config', file, ...extra]);
  t.after(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  return { dir, file, cli, url: `ws://127.0.0.1:${cli.port}/a` };
}

/** The admin listener's port, from its log line. */
async function adminPort(cli: Cli): Promise<number> {
  const m = await until(() => /"address":\{"address":"127\.0\.0\.1","family":"IPv4","port":(\d+)\}[^\n]*"msg":"admin API listening"/.exec(cli.output()), {
    timeoutMs: 10_000,
    what: () => `the admin API's log line in:\n${cli.output()}`,
  });
  return Number(m[1]);
}

async function api(base: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

async function echoes(ws: WebSocket, text: string): Promise<void> {
  const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  ws.send(Buffer.from(text));
  assert.equal(await reply, text);
}

test('admin API: wsgate sessions lists, kill closes one with its code and reason, drain lets sessions finish, reload', { timeout: 60_000 }, async (t) => {
  const { cli, url } = await start(t, '  listen: 127.0.0.1:0\n');
  const base = `http://127.0.0.1:${await adminPort(cli)}`;
  const first = await connect(url, 'binary');
  const second = await connect(url, 'binary');
  await echoes(first, 'one');

  const listed = await api(base, 'GET', '/sessions');
  assert.equal(listed.status, 200);
  assert.equal(listed.body.sessions.length, 2);
  for (const s of listed.body.sessions) {
    assert.equal(s.paused, false);
    assert.equal(typeof s.bufferedAmount, 'number');
  }
  const table = await runCli(['sessions', '--admin', base]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0]!, /^ID\s+WORKER\s+PATH\s+CLIENT\s+TARGET\s+STARTED\s+IN\s+OUT\s+QUEUED$/);
  assert.equal(lines.length, 3);
  const ids = listed.body.sessions.map((s: { id: string }) => s.id) as string[];
  for (const id of ids) assert.ok(lines.some((l) => l.startsWith(`${id} `)), `${id} in\n${table.stdout}`);

  // Which id is `second`'s: the one that has moved no bytes.
  const secondId = listed.body.sessions.find((s: { bytesIn: number }) => s.bytesIn === 0).id as string;
  const ended = closed(second);
  const kill = await runCli(['kill', secondId, '--admin', base, '--code', '4000', '--reason', 'closed by the operator']);
  assert.equal(kill.code, 0, kill.stderr);
  assert.deepEqual(await ended, { code: 4000, reason: 'closed by the operator' });
  const again = await runCli(['kill', secondId, '--admin', base]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /answered 404: no session/);
  // Ids are base64url: one may start with "-", and is still an id, not an option.
  const dashed = await runCli(['kill', '-dX9', '--admin', base]);
  assert.equal(dashed.code, 1, dashed.stderr);
  assert.match(dashed.stderr, /answered 404: no session -dX9/);
  assert.equal((await api(base, 'POST', `/sessions/${ids[0]}/close`, { body: { code: 1005 } })).status, 400);

  const drain = await runCli(['drain', '--admin', base]);
  assert.equal(drain.code, 0, drain.stderr);
  assert.equal(drain.stdout, 'draining: no new sessions; 1 still open\n');
  assert.equal(await handshakeStatus(url, 'binary'), 503);
  const health = await fetch(`http://127.0.0.1:${cli.port}/healthz`);
  assert.equal(health.status, 503);
  assert.equal(((await health.json()) as { status: string }).status, 'draining');
  await echoes(first, 'still relaying while draining');

  const reload = await runCli(['reload', '--admin', base]);
  assert.equal(reload.code, 0, reload.stderr);
  assert.equal(reload.stdout, 'reloaded: routes /a\n');
  first.close(1000);
  await closed(first);
});

test('admin API: a token off loopback; trustLoopback: false asks it of loopback clients too', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'admin-token');
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, 'the-admin-secret\n');
  const { cli } = await start(t, `  listen: 127.0.0.1:0\n  tokenFile: ${tokenFile}\n  trustLoopback: false\n`);
  const base = `http://127.0.0.1:${await adminPort(cli)}`;
  const none = await api(base, 'GET', '/sessions');
  assert.equal(none.status, 401);
  assert.equal((await api(base, 'GET', '/sessions', { token: 'wrong' })).status, 401);
  assert.equal((await api(base, 'GET', '/sessions', { token: 'the-admin-secret' })).status, 200);
  const without = await runCli(['sessions', '--admin', base]);
  assert.equal(without.code, 1);
  assert.match(without.stderr, /answered 401/);
  const withToken = await runCli(['sessions', '--admin', base, '--token-file', tokenFile]);
  assert.equal(withToken.code, 0, withToken.stderr);
  assert.equal(withToken.stdout, 'no sessions\n');
  // The token is never logged.
  assert.doesNotMatch(cli.output(), /the-admin-secret|wrong/);
  // A rotated token file applies at the next request.
  writeFileSync(tokenFile, 'rotated\n');
  assert.equal((await api(base, 'GET', '/sessions', { token: 'the-admin-secret' })).status, 401);
  assert.equal((await api(base, 'GET', '/sessions', { token: 'rotated' })).status, 200);
});

test('--workers 2: the primary lists every worker\'s sessions, closes one, drains and reloads all', { timeout: 60_000 }, async (t) => {
  const { cli, url } = await start(t, '  listen: 127.0.0.1:0\n', ['--workers', '2']);
  const base = `http://127.0.0.1:${await adminPort(cli)}`;
  await until(() => (cli.output().match(/"msg":"route ready"/g) ?? []).length >= 2, { timeoutMs: 10_000, what: 'two workers' });
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect(url, 'binary')));
  const listed = await until(async () => {
    const r = await api(base, 'GET', '/sessions');
    return r.body.sessions.length === 4 ? r.body.sessions : null;
  }, { timeoutMs: 10_000, what: 'four sessions', everyMs: 50 });
  assert.equal(new Set(listed.map((s: { worker: number }) => s.worker)).size, 2);

  const victim = listed[0].id as string;
  const ends = clients.map((c) => closed(c).then((info) => info));
  const kill = await runCli(['kill', victim, '--admin', base, '--code', '4001', '--reason', 'bye']);
  assert.equal(kill.code, 0, kill.stderr);
  const first = await Promise.race(ends);
  assert.deepEqual(first, { code: 4001, reason: 'bye' });

  const drain = await runCli(['drain', '--admin', base]);
  assert.equal(drain.stdout, 'draining: no new sessions; 3 still open\n');
  for (let i = 0; i < 4; i++) assert.equal(await handshakeStatus(url, 'binary'), 503);

  const reload = await api(base, 'POST', '/reload');
  assert.equal(reload.status, 200);
  assert.equal(reload.body.workers.length, 2);
  assert.ok(reload.body.workers.every((w: { ok: boolean }) => w.ok));
  for (const c of clients) c.terminate();
});

test('--workers 2 with admin.path: a worker asks the primary, which answers for every worker', { timeout: 60_000 }, async (t) => {
  const { cli, url } = await start(t, '  path: /admin\n', ['--workers', '2']);
  await until(() => (cli.output().match(/"msg":"route ready"/g) ?? []).length >= 2, { timeoutMs: 10_000, what: 'two workers' });
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect(url, 'binary')));
  const base = `http://127.0.0.1:${cli.port}/admin`;
  await until(async () => (await api(base, 'GET', '/sessions')).body.sessions.length === 4, { timeoutMs: 10_000, what: 'four sessions', everyMs: 50 });
  const table = await runCli(['sessions', '--admin', base]);
  assert.equal(table.stdout.trim().split('\n').length, 5);
  assert.equal((await api(base, 'GET', '/nothing')).status, 404);
  for (const c of clients) c.terminate();
});

test('admin config errors: neither listen nor path, a non-loopback listener without a token, trustLoopback: false without one', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'admin-config');
  const cases: Array<[string, RegExp]> = [
    ['admin: {}\n', /:1: admin: needs either listen \(its own listener\) or path \(on the main port\), not both/],
    ['admin:\n  listen: 0.0.0.0:9000\n', /:2: admin\.listen: 0\.0\.0\.0 is not a loopback address: set admin\.tokenFile/],
    ['admin:\n  path: /admin\n  trustLoopback: false\n', /:3: admin\.trustLoopback: false needs a tokenFile/],
  ];
  for (const [i, [block, error]] of cases.entries()) {
    const file = join(dir, `c${i}.yaml`);
    writeFileSync(file, `${block}routes:\n  - path: /a\n    handler: echo\n`);
    const r = await runCli(['--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, error);
  }
  const noWhere = await runCli(['sessions']);
  assert.equal(noWhere.code, 2);
  assert.match(noWhere.stderr, /give --admin URL or --config FILE/);
});
