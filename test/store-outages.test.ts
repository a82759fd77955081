// Stores that are hung or down: start-up never waits on them, a lookup
// against one answers 503 within the route's timeout, and the connections
// kept in the background (lookups, revocation LISTEN and subscriber) log each
// change of state once, however often they retry.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { handshakeStatus, spawnCli, startGateway, tempDir, until } from './support/index.js';
import { capturedLog, parseLines, repeatedKeys, type LogLine } from './support/logs.js';
import { hungStore, storeSwitch } from './support/stand-in-stores.js';
import { freePort } from './support/vnc.js';
import { PG_CONNECTION, tokensTable } from './support/sql-stores.js';

const TIMEOUT_S = 1;

function tempConfig(t: TestContext, config: object): string {
  const file = join(tempDir(t, 'outages'), 'wsgate.yaml');
  writeFileSync(file, JSON.stringify(config)); // JSON is YAML
  return file;
}

/** The lines about a store connection's state: revocation watches and lookup connections, not the lookups themselves. */
const stateLines = (lines: LogLine[]) => lines.filter((l) => l.level >= 30 && /^(revocations: |store (connected|reachable|unreachable|connection lost))/.test(l.msg ?? ''));

test('hung Redis, PostgreSQL and MariaDB stores: the CLI listens at once, lookups get 503 within the timeout, one line per state change', { timeout: 30_000 }, async (t) => {
  const hung = await hungStore();
  t.after(() => hung.close());
  const at = `127.0.0.1:${hung.port}`;
  const resolver = (type: string, url: string) => ({ type, url, timeout: TIMEOUT_S });
  const routes = [
    { path: '/redis1', handler: 'tcp-proxy', resolver: resolver('redis', `redis://${at}`) },
    { path: '/redis2', handler: 'tcp-proxy', resolver: resolver('redis', `redis://${at}/1`) },
    { path: '/pg1', handler: 'tcp-proxy', resolver: resolver('postgres', `postgres://wsgate@${at}/db`) },
    { path: '/pg2', handler: 'tcp-proxy', resolver: resolver('postgres', `postgres://wsgate@${at}/db`) },
    { path: '/pg3', handler: 'tcp-proxy', resolver: { ...resolver('postgres', `postgres://wsgate@${at}/db`), timeout: 3 } },
    { path: '/mysql', handler: 'tcp-proxy', resolver: resolver('mysql', `mysql://wsgate@${at}/db`) },
  ];
  // The same routes against a port that refuses at once: the start-up time of the same
  // gateway (modules, routes) with no store to wait for, on this machine at this moment.
  const refusedAt = `127.0.0.1:${await freePort()}`;
  const refusing = routes.map((r) => ({ ...r, resolver: { ...r.resolver, url: r.resolver.url.replace(at, refusedAt) } }));
  let started = Date.now();
  const baseline = await spawnCli(['--config', tempConfig(t, { listen: '127.0.0.1:0', logLevel: 'trace', routes: refusing })]);
  const baselineMs = Date.now() - started;
  baseline.child.kill('SIGKILL');
  const file = tempConfig(t, { listen: '127.0.0.1:0', logLevel: 'trace', routes });
  started = Date.now();
  const cli = await spawnCli(['--config', file]);
  t.after(() => cli.child.kill('SIGKILL'));
  const tookMs = Date.now() - started;
  // Waiting on the stores would add 3 s per PostgreSQL route, and a Redis handshake never ends.
  assert.ok(tookMs < baselineMs + 1500, `listening after ${tookMs} ms, ${baselineMs} ms with stores that refuse at once (start-up must not wait on a store)`);

  await Promise.all(
    routes.map(async (route) => {
      const began = Date.now();
      assert.equal(await handshakeStatus(`ws://127.0.0.1:${cli.port}${route.path}?token=abc`, ['binary']), 503, route.path);
      const ms = Date.now() - began;
      const limit = route.resolver.timeout * 1000;
      assert.ok(ms >= limit - 100 && ms < limit + 1500, `${route.path}: 503 after ${ms} ms, its timeout is ${limit} ms`);
    }),
  );
  // Long enough for the Redis connections to give up on their handshake (2 s) and retry.
  await until(() => parseLines(cli.output()).filter((l) => l.msg === 'revocations: reconnecting' && l.route === '/redis1').length >= 2, { timeoutMs: 10_000, what: 'redis retries' });

  const began = Date.now();
  cli.child.kill('SIGTERM');
  const exit = await cli.exited;
  assert.equal(exit.code, 0);
  // Before, closing waited 10 s for the hung store's connections.
  assert.ok(Date.now() - began < 5000, `stopping took ${Date.now() - began} ms: closing must not wait on a hung store`);

  const lines = parseLines(exit.stdout);
  for (const raw of exit.stdout.split('\n').filter(Boolean)) assert.deepEqual(repeatedKeys(raw), [], raw);
  const states = stateLines(lines).map((l) => `${l.route as string} ${l.msg}`);
  assert.equal(new Set(states).size, states.length, `a state is logged once, not once per attempt:\n${states.join('\n')}`);
  for (const route of ['/redis1', '/redis2']) assert.ok(states.includes(`${route} revocations: cannot listen yet; retrying in the background`), route);
  assert.ok(states.includes('/redis1 store unreachable; lookups answer 503 until it is back'));
});

test('a store going down and coming back: each connection logs every change of state once, and retries with backoff', { timeout: 40_000 }, async (t) => {
  const redis = await storeSwitch(6379);
  const postgres = await storeSwitch(PG_CONNECTION.port);
  t.after(() => redis.close());
  t.after(() => postgres.close());
  const { table } = await tokensTable(t, { type: 'postgres', connection: () => PG_CONNECTION, spec: () => ({ dialect: 'postgres', ...PG_CONNECTION }), unreachable: {} });
  const logs = capturedLog('debug');
  const gw = await startGateway(
    {
      routes: [
        { path: '/r', handler: 'tcp-proxy', resolver: { type: 'redis', port: redis.port, prefix: 'wsgate-test-outage:', timeout: TIMEOUT_S } },
        { path: '/p', handler: 'tcp-proxy', resolver: { type: 'postgres', ...PG_CONNECTION, port: postgres.port, table: table.table, timeout: TIMEOUT_S } },
      ],
    },
    'debug',
    logs.log,
  );
  t.after(() => gw.stop());
  const retries = (route: string) => logs.lines().filter((l) => l.msg === 'revocations: reconnecting' && l.route === route).length;
  const states = (route: string) => stateLines(logs.lines()).filter((l) => l.route === route).map((l) => l.msg);
  const lookups = async (want: number) => {
    for (const path of ['/r', '/p']) for (let i = 0; i < 3; i++) assert.equal(await handshakeStatus(gw.url(`${path}?token=nope`), ['binary']), want, path);
  };

  // Down from the start: the watches retry with backoff (a debug line each), lookups fail at once.
  await until(() => retries('/r') >= 3 && retries('/p') >= 3, { timeoutMs: 10_000, what: 'three retries each' });
  await lookups(503);
  const down = ['revocations: cannot listen yet; retrying in the background', 'store unreachable; lookups answer 503 until it is back'];
  assert.deepEqual(states('/r'), down);
  assert.deepEqual(states('/p'), down);

  // Back: the watches listen again by themselves; lookups answer (403: no such token).
  redis.on();
  postgres.on();
  await until(() => states('/r').includes('revocations: listening again') && states('/p').includes('revocations: listening again'), { timeoutMs: 15_000, what: 'listening again' });
  await lookups(403);
  const back = [...down, 'revocations: listening again', 'store reachable again'];
  assert.deepEqual([...states('/r')].sort(), [...back].sort());
  assert.deepEqual([...states('/p')].sort(), [...back].sort());

  // Lost: one line per connection that was up, however many retries follow.
  const before = { r: retries('/r'), p: retries('/p') };
  redis.off();
  postgres.off();
  await until(() => retries('/r') >= before.r + 3 && retries('/p') >= before.p + 2, { timeoutMs: 15_000, what: 'retries after the loss' });
  const lost = ['revocations: connection lost; reconnecting', 'store connection lost; lookups answer 503 until it is back'];
  assert.deepEqual(states('/r').slice(back.length).sort(), lost);
  assert.deepEqual(states('/p').slice(back.length).sort(), lost);
  for (const raw of logs.raw) assert.deepEqual(repeatedKeys(raw), [], raw);
});
