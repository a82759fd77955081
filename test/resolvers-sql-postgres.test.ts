// The PostgreSQL resolver against the real server: the shared SQL
// behaviour, aborted lookups that must not leak pooled connections, and
// revocations announced with NOTIFY reaching other gateways' listeners.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../src/proxy/resolvers/types.js';
import { revokeToken } from '../src/proxy/resolvers/tokens-table.js';
import { makeResolver, within } from './support/resolvers.js';
import { PG_CONNECTION, resolverFor, sqlResolverSuite, tokensTable, unique, type StoreUnderTest } from './support/sql-stores.js';
import { until } from './support/index.js';

const pg: StoreUnderTest = {
  type: 'postgres',
  connection: () => PG_CONNECTION,
  spec: () => ({ dialect: 'postgres', ...PG_CONNECTION }),
  unreachable: { ...PG_CONNECTION, port: 1 },
};

sqlResolverSuite(pg);

test('postgres: the url form, and a jsonb ? operator next to $1 is left alone', { timeout: 10_000 }, async (t) => {
  const { user, host, port, database } = PG_CONNECTION;
  const r = await resolverFor(t, { ...pg, connection: () => ({ url: `postgres://${user}@${host}:${port}/${database}` }) }, {
    query: `SELECT 'h' AS connecthost, 5900 AS connectport, '{"a":1}'::jsonb ? 'a' AS has_a WHERE $1 = 'k'`,
  });
  assert.deepEqual(await r.resolve('k', within()), { host: 'h', port: 5900, params: { connecthost: 'h', connectport: '5900', has_a: 'true' } });
});

test('postgres: an aborted slow lookup rejects at once and does not use up the pool', { timeout: 20_000 }, async (t) => {
  const r = await resolverFor(t, pg, {
    poolSize: 1,
    query: `SELECT 'h' AS connecthost, 5900 AS connectport FROM pg_sleep(CASE WHEN $1 = 'slow' THEN 10 ELSE 0 END)`,
  });
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    await assert.rejects(r.resolve('slow', within(300)), StoreError);
    assert.ok(Date.now() - started < 2000, 'rejected when the signal aborted, not when the query ended');
  }
  // With one connection in the pool, this only works if the aborted ones were let go.
  assert.equal((await r.resolve('fast', within(5000)))?.port, 5900);
});

test('postgres: a revocation reaches the listeners of other gateways (LISTEN/NOTIFY)', { timeout: 20_000 }, async (t) => {
  const { table } = await tokensTable(t, pg);
  const token = unique('tok');
  await table.add({ token, host: '127.0.0.1', port: 5901 });
  const gw1 = await resolverFor(t, pg, { table: table.table });
  const gw2 = await resolverFor(t, pg, { table: table.table });
  const heard: string[][] = [[], []];
  await gw1.watchRevocations!((tok) => heard[0]!.push(tok));
  await gw2.watchRevocations!((tok) => heard[1]!.push(tok));
  assert.equal(await revokeToken(pg.spec(), token, table.table), true);
  await until(() => heard[0]!.length > 0 && heard[1]!.length > 0, { timeoutMs: 10_000, everyMs: 20, what: () => `both gateways hearing the revocation (heard ${JSON.stringify(heard)})` });
  assert.deepEqual(heard, [[token], [token]]);
  assert.deepEqual(await gw1.resolve(token, within()), { refused: 'revoked' });
});

test('postgres: the revocation listener reconnects after its connection is killed', { timeout: 20_000 }, async (t) => {
  const { table, admin } = await tokensTable(t, pg);
  const r = await resolverFor(t, pg, { table: table.table });
  const heard = new Set<string>();
  await r.watchRevocations!((tok) => heard.add(tok));
  const killed = await admin.rows(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1`, [`wsgate-revocations pid ${process.pid}`]);
  assert.equal(killed.length, 1, 'this process has exactly one listener');
  // Keep revoking fresh tokens until one is heard: the listener is back.
  for (let i = 0; ; i++) {
    const token = `again${i}`;
    await table.add({ token, host: '127.0.0.1', port: 5901 });
    await table.revoke(token);
    await sleep(100);
    if (heard.has(token)) break;
  }
});

test('postgres: a store that is down neither blocks the revocation watch nor crashes; close() stops the retries', { timeout: 10_000 }, async () => {
  const r = await makeResolver({ type: 'postgres', ...PG_CONNECTION, port: 1 });
  const started = Date.now();
  let listening = false;
  void r.watchRevocations!(() => {}).then(() => (listening = true));
  assert.ok(Date.now() - started < 100, 'the watch connects in the background: nothing waits for it');
  await sleep(700); // at least one retry
  assert.equal(listening, false, 'a store that is down is never reported listening');
  await r.close();
});

test('postgres: a pooled connection killed by the server is replaced (the process survives, lookups recover)', { timeout: 20_000 }, async (t) => {
  const { table, admin } = await tokensTable(t, pg);
  await table.add({ token: 'tok', host: '127.0.0.1', port: 5901 });
  const r = await resolverFor(t, pg, { table: table.table });
  assert.equal((await r.resolve('tok', within()))?.port, 5901);
  const killed = await admin.rows(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, [`wsgate pid ${process.pid}`]);
  assert.ok(killed.length >= 1);
  await sleep(200); // the idle connection's error reaches the pool
  assert.equal((await r.resolve('tok', within()))?.port, 5901);
});
