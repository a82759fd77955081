// Reload without dropping sessions (SIGHUP): a session relays byte-exact
// through three reloads, one adding a route, one removing the session's own
// route (new clients get 404, the old session goes on), one with a bad file
// (refused whole, FILE:LINE logged, the running config stays); a reload that
// changes a fixed option is refused; under --workers 2 every worker applies it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { WebSocket } from 'ws';
import { closed, connect, handshakeStatus, pseudoRandom, sha256, spawnCli, startBackend, tempDir, until } from './support/index.js';

type Cli = Awaited<ReturnType<typeof spawnCli>>;

function routes(backendPort: number, paths: string[]): string {
  return paths.map((p) => `  - path: ${p}\n    handler: tcp-proxy\n    target: 127.0.0.1:${backendPort}\n`).join('');
}

function logLines(cli: Cli, msg: string): Array<Record<string, unknown>> {
  return cli
    .output()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Sends SIGHUP and waits for the `count`-th line saying `msg`. */
async function hangUp(cli: Cli, msg: string, count: number): Promise<Record<string, unknown>> {
  cli.child.kill('SIGHUP');
  await until(() => logLines(cli, msg).length >= count, { timeoutMs: 10_000, what: () => `${count} x "${msg}" in:\n${cli.output()}` });
  return logLines(cli, msg)[count - 1]!;
}

async function start(t: TestContext, extra: string[] = []) {
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const dir = tempDir(t, 'reload');
  const file = join(dir, 'wsgate.yaml');
  const write = (paths: string[], head = 'listen: 127.0.0.1:0\n') => writeFileSync(file, `${head}routes:\n${routes(backend.port, paths)}`);
  write(['/a']);
  const cli = await spawnCli(['--config', file, ...extra]);
  t.after(() => kill(cli.child));
  return { backend, file, write, cli, url: (p: string) => `ws://127.0.0.1:${cli.port}${p}` };
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Sends `chunk` and resolves with the echoed bytes once as many have come back. */
function echoed(ws: WebSocket, received: Buffer[], chunk: Buffer): Promise<void> {
  const want = received.reduce((n, b) => n + b.length, 0) + chunk.length;
  ws.send(chunk);
  return until(() => received.reduce((n, b) => n + b.length, 0) >= want, { timeoutMs: 10_000, what: 'the echo' }).then(() => {});
}

test('SIGHUP: a session relays byte-exact across three reloads (route added, its own route removed, bad file refused)', { timeout: 60_000 }, async (t) => {
  const { file, write, cli, url } = await start(t);
  const ws = await connect(url('/a'), 'binary');
  const received: Buffer[] = [];
  ws.on('message', (d: Buffer) => received.push(d));
  const sent: Buffer[] = [];
  const step = async (seed: number) => {
    const chunk = pseudoRandom(300_000, seed);
    sent.push(chunk);
    await echoed(ws, received, chunk);
  };
  await step(1);

  // 1. A route is added: it accepts at once; /a goes on.
  write(['/a', '/b']);
  const first = await hangUp(cli, 'config reloaded', 1);
  assert.deepEqual(first.routes, ['/a', '/b']);
  assert.equal(first.sessionsOnPreviousRoutes, 1);
  const b = await connect(url('/b'), 'binary');
  b.close();
  await step(2);

  // 2. The session's own route is removed: new clients get 404, the session goes on.
  write(['/b']);
  await hangUp(cli, 'config reloaded', 2);
  assert.equal(await handshakeStatus(url('/a'), 'binary'), 404);
  await step(3);

  // 3. A bad file is refused whole, with its FILE:LINE; /b still serves, /a still 404.
  writeFileSync(file, `listen: 127.0.0.1:0\nroutes:\n  - path: /c\n    handler: tcp-proxy\n    taget: 127.0.0.1:1\n`);
  const refused = await hangUp(cli, 'reload refused: the running config stays', 1);
  assert.equal(refused.error, `${file}:5: routes[0].taget: unknown field`);
  assert.equal(await handshakeStatus(url('/c'), 'binary'), 404);
  const b2 = await connect(url('/b'), 'binary');
  b2.close();
  await step(4);

  assert.equal(sha256(Buffer.concat(received)), sha256(Buffer.concat(sent)));
  ws.close(1000);
  assert.equal((await closed(ws)).code, 1000);
  // The removed route's handler shut down after its last session; the process stops cleanly.
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited).code, 0);
});

test('SIGHUP: a changed listen address is refused, naming it, and nothing is applied', { timeout: 30_000 }, async (t) => {
  const { write, cli, url } = await start(t);
  write(['/a', '/b'], 'listen: 127.0.0.1:1\n');
  const refused = await hangUp(cli, 'reload refused: the running config stays', 1);
  assert.match(String(refused.error), /^cannot change at run time: listen \(restart wsgate for those\); nothing was applied$/);
  assert.equal(await handshakeStatus(url('/b'), 'binary'), 404);
  const a = await connect(url('/a'), 'binary');
  a.close();
});

test('--workers 2: SIGHUP to the primary reloads every worker; success only when all did', { timeout: 60_000 }, async (t) => {
  const { write, cli, url } = await start(t, ['--workers', '2']);
  // Both workers must be serving before the reload is asked.
  await until(async () => (await handshakeStatus(url('/a'), 'binary')) === 101, { timeoutMs: 10_000, what: 'a worker' });
  await until(() => (cli.output().match(/"msg":"route ready"/g) ?? []).length >= 2, { timeoutMs: 10_000, what: 'two workers' });
  write(['/b']);
  const done = await hangUp(cli, 'config reloaded by every worker', 1);
  assert.equal(done.workers, 2);
  assert.equal(logLines(cli, 'config reloaded').length, 2);
  assert.equal(new Set(logLines(cli, 'config reloaded').map((l) => l.worker)).size, 2);
  // Every new connection, whichever worker takes it, sees the new routes.
  for (let i = 0; i < 6; i++) {
    assert.equal(await handshakeStatus(url('/a'), 'binary'), 404);
    assert.equal(await handshakeStatus(url('/b'), 'binary'), 101);
  }
});
