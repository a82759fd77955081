// The MariaDB/MySQL resolver against the real server: the shared SQL
// behaviour (including the original module's `%s` example), the URL form,
// and aborted lookups that must not leak pooled connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../src/proxy/resolvers/types.js';
import { within } from './support/resolvers.js';
import { MYSQL_CONNECTION, resolverFor, sqlResolverSuite, tableFor, type StoreUnderTest } from './support/sql-stores.js';

const mysql: StoreUnderTest = {
  type: 'mysql',
  connection: () => MYSQL_CONNECTION,
  spec: () => ({ dialect: 'mysql', ...MYSQL_CONNECTION }),
  unreachable: { ...MYSQL_CONNECTION, port: 1 },
};

sqlResolverSuite(mysql);

test('mysql: the url form; ? and %s inside string literals and comments are not placeholders', { timeout: 10_000 }, async (t) => {
  const { name, admin } = await tableFor(t, mysql, 'vnc', (n) => `CREATE TABLE ${n} (vnckey VARCHAR(255), note VARCHAR(255), connecthost VARCHAR(255), connectport INT)`);
  await admin.run(`INSERT INTO ${name} VALUES (?, ?, ?, ?)`, ['k', "it's", 'h', 5900]);
  const { user, host, port, database } = MYSQL_CONNECTION;
  const r = await resolverFor(t, { ...mysql, connection: () => ({ url: `mysql://${user}@${host}:${port}/${database}` }) }, {
    query: `SELECT note, '?' AS q, 'it\\'s %s' AS s, connecthost, connectport FROM ${name} /* ? */ WHERE vnckey = %s -- ?`,
  });
  assert.deepEqual(await r.resolve('k', within()), { host: 'h', port: 5900, params: { note: "it's", q: '?', s: "it's %s", connecthost: 'h', connectport: '5900' } });
});

test('mysql: an aborted slow lookup rejects at once and does not use up the pool', { timeout: 20_000 }, async (t) => {
  const r = await resolverFor(t, mysql, {
    poolSize: 1,
    query: `SELECT 'h' AS connecthost, 5900 AS connectport, SLEEP(IF(? = 'slow', 10, 0)) AS slept`,
  });
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    await assert.rejects(r.resolve('slow', within(300)), StoreError);
    assert.ok(Date.now() - started < 2000, 'rejected when the signal aborted, not when the query ended');
  }
  // With one connection in the pool, this only works if the aborted ones were let go.
  assert.equal((await r.resolve('fast', within(5000)))?.port, 5900);
});

test('mysql: no revocation watch (lookups refuse revoked tokens; see docs/tokens.md)', { timeout: 10_000 }, async (t) => {
  const r = await resolverFor(t, mysql, {});
  assert.equal(r.watchRevocations, undefined);
});
