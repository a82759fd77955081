// The SQL resolver behaviour every store must show (SQLite, PostgreSQL,
// MariaDB), registered once per store by its test file. Each test creates
// its own uniquely named tables and drops them afterwards.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openDriver, type SqlDriver, type StoreSpec } from '../../src/proxy/resolvers/sql-driver.js';
import { StoreError, type TargetResolver } from '../../src/proxy/resolvers/types.js';
import { nowSeconds, revokeToken, TokensTable } from '../../src/proxy/resolvers/tokens-table.js';
import { makeResolver, within } from './resolvers.js';

export const PG_CONNECTION = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
export const MYSQL_CONNECTION = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };

export interface StoreUnderTest {
  type: 'sqlite' | 'postgres' | 'mysql';
  /** The resolver block's connection fields. */
  connection: () => Record<string, unknown>;
  /** The same store, for setting up tables. */
  spec: () => StoreSpec;
  /** Connection fields of the same kind of store that is down. */
  unreachable: Record<string, unknown>;
}

export const unique = (prefix: string): string => `${prefix}_${randomBytes(5).toString('hex')}`;

/** Tokens that must be bound, never spliced, and simply not be found. */
export const TRICKY_TOKENS = ["' OR 1=1 --", "x' OR 'a'='a", '%', '%s', '?', '$1', '"; DROP TABLE x; --', 'ключ-✓-鍵-🔑', 'a'.repeat(10 * 1024)];
/** Near misses the built-in table must refuse (a user's own table may collate them equal, e.g. on MariaDB). */
const NEAR_MISSES = ['k1 ', 'K1', ' k1'];

/** A resolver for `block`, closed when the test ends. */
export async function resolverFor(t: TestContext, s: StoreUnderTest, block: Record<string, unknown>): Promise<TargetResolver> {
  const r = await makeResolver({ type: s.type, ...s.connection(), ...block });
  t.after(() => r.close());
  return r;
}

/** A driver for set-up, and a table `name` created by `ddl`, both gone when the test ends. */
export async function tableFor(t: TestContext, s: StoreUnderTest, prefix: string, ddl: (name: string) => string): Promise<{ name: string; admin: SqlDriver }> {
  const admin = await openDriver(s.spec());
  const name = unique(prefix);
  t.after(async () => {
    await admin.run(`DROP TABLE IF EXISTS ${name}`, []);
    await admin.close();
  });
  await admin.run(ddl(name), []);
  return { name, admin };
}

/** The original module's kind of table: several rows per key, some columns null. */
async function vncTable(t: TestContext, s: StoreUnderTest): Promise<string> {
  const { name, admin } = await tableFor(t, s, 'vnc', (n) =>
    `CREATE TABLE ${n} (id INTEGER, vnckey VARCHAR(255), nodehost VARCHAR(255), nodeport INTEGER, connecthost VARCHAR(255), connectport INTEGER)`);
  const rows: unknown[][] = [
    [1, 'k1', '10.0.0.5', 5901, '127.0.0.1', 5999],
    [2, 'multi', null, null, null, 6001], // no connecthost: skipped
    [3, 'multi', 'n3', null, 'h3', 6003], // the first usable row; nodeport null
    [4, 'multi', 'n4', 5904, 'h4', 6004],
    [5, 'nohost', 'n5', 5905, null, null],
  ];
  const marks = s.type === 'postgres' ? '$1, $2, $3, $4, $5, $6' : '?, ?, ?, ?, ?, ?';
  for (const row of rows) await admin.run(`INSERT INTO ${name} VALUES (${marks})`, row);
  return name;
}

export function sqlResolverSuite(s: StoreUnderTest): void {
  const native = s.type === 'postgres' ? '$1' : '?';

  test(`${s.type}: the original example query with %s, hit and miss`, { timeout: 20_000 }, async (t) => {
    const vnc = await vncTable(t, s);
    const r = await resolverFor(t, s, { query: `SELECT nodehost, nodeport, connecthost, connectport FROM ${vnc} WHERE vnckey = %s` });
    const hit = await r.resolve('k1', within());
    assert.deepEqual(hit, { host: '127.0.0.1', port: 5999, params: { nodehost: '10.0.0.5', nodeport: '5901', connecthost: '127.0.0.1', connectport: '5999' } });
    // Parameters keep the column order (the cluster handshake hashes them in order).
    assert.deepEqual(Object.keys(hit!.params), ['nodehost', 'nodeport', 'connecthost', 'connectport']);
    assert.equal(await r.resolve('nope', within()), null);
    assert.equal(await r.resolve('nohost', within()), null, 'rows without connecthost/connectport do not count');
  });

  test(`${s.type}: several rows: the first with connecthost and connectport wins; null columns are no parameters`, { timeout: 20_000 }, async (t) => {
    const vnc = await vncTable(t, s);
    const r = await resolverFor(t, s, { query: `SELECT nodehost, nodeport, connecthost, connectport FROM ${vnc} WHERE vnckey = ${native} ORDER BY id` });
    assert.deepEqual(await r.resolve('multi', within()), { host: 'h3', port: 6003, params: { nodehost: 'n3', connecthost: 'h3', connectport: '6003' } });
  });

  test(`${s.type}: tricky tokens are bound, never spliced`, { timeout: 20_000 }, async (t) => {
    const vnc = await vncTable(t, s);
    const custom = await resolverFor(t, s, { query: `SELECT connecthost, connectport FROM ${vnc} WHERE vnckey = ${native}` });
    const tokens = await tokensTable(t, s);
    await tokens.table.add({ token: 'k1', host: '127.0.0.1', port: 5999 });
    const builtIn = await resolverFor(t, s, { table: tokens.table.table });
    for (const token of TRICKY_TOKENS) {
      const what = JSON.stringify(token.slice(0, 20));
      assert.equal(await custom.resolve(token, within()), null, `custom query, ${what}`);
      assert.equal(await builtIn.resolve(token, within()), null, `tokens table, ${what}`);
    }
    for (const token of NEAR_MISSES) assert.equal(await builtIn.resolve(token, within()), null, `tokens table, ${JSON.stringify(token)}`);
    assert.equal((await tokens.admin.rows(`SELECT * FROM ${vnc}`, [])).length, 5, 'the table is intact');
    assert.equal((await builtIn.resolve('k1', within()))?.port, 5999);
  });

  test(`${s.type}: tokens table: hit with parameters, miss, expired, revoked`, { timeout: 20_000 }, async (t) => {
    const { table } = await tokensTable(t, s);
    const now = nowSeconds();
    await table.add({ token: 'good', host: '10.1.2.3', port: 5901, expiresAt: now + 3600, params: { nodehost: 'n1', nodeport: '5900' } });
    await table.add({ token: 'old', host: '10.1.2.3', port: 5901, expiresAt: now - 1 });
    await table.add({ token: 'bad', host: '10.1.2.3', port: 5901 });
    const r = await resolverFor(t, s, { table: table.table });
    assert.deepEqual(await r.resolve('good', within()), { host: '10.1.2.3', port: 5901, params: { nodehost: 'n1', nodeport: '5900', host: '10.1.2.3', port: '5901' } });
    assert.equal(await r.resolve('missing', within()), null);
    assert.deepEqual(await r.resolve('old', within()), { refused: 'expired' });
    assert.equal((await r.resolve('bad', within()))?.host, '10.1.2.3');
    assert.equal(await revokeToken(s.spec(), 'bad', table.table), true);
    assert.deepEqual(await r.resolve('bad', within()), { refused: 'revoked' });
    assert.equal(await revokeToken(s.spec(), 'missing', table.table), false);
  });

  test(`${s.type}: a single-use token works once, also across two gateways sharing the store`, { timeout: 20_000 }, async (t) => {
    const { table } = await tokensTable(t, s);
    await table.add({ token: 'once', host: '10.1.2.3', port: 5901, singleUse: true });
    await table.add({ token: 'race', host: '10.1.2.3', port: 5901, singleUse: true });
    const gw1 = await resolverFor(t, s, { table: table.table });
    const gw2 = await resolverFor(t, s, { table: table.table });
    const target = await gw1.resolve('once', within());
    assert.equal(target?.singleUse, true);
    assert.equal(await gw1.consume!('once', within()), true);
    assert.equal(await gw2.consume!('once', within()), false, 'the other gateway sees it used');
    assert.equal(await gw1.consume!('once', within()), false);
    assert.deepEqual(await gw2.resolve('once', within()), { refused: 'used' }, 'a used token no longer resolves');
    // Both gateways at the same moment: exactly one wins.
    const wins = await Promise.all([gw1.consume!('race', within()), gw2.consume!('race', within())]);
    assert.deepEqual(wins.sort(), [false, true]);
  });

  test(`${s.type}: an unreachable store rejects with a StoreError naming it, within the timeout`, { timeout: 20_000 }, async (t) => {
    const r = await makeResolver({ type: s.type, ...s.unreachable, query: `SELECT connecthost, connectport FROM vnc WHERE vnckey = ${native}` });
    t.after(() => r.close());
    const started = Date.now();
    await assert.rejects(r.resolve('k1', within(3000)), (e: unknown) => e instanceof StoreError && e.message.startsWith(s.type));
    assert.ok(Date.now() - started < 4000);
    // An aborted lookup is refused without touching the store.
    const aborted = AbortSignal.abort(new Error('client left'));
    await assert.rejects(r.resolve('k1', aborted), StoreError);
  });
}

/** A fresh built-in tokens table in the store under test. */
export async function tokensTable(t: TestContext, s: StoreUnderTest): Promise<{ table: TokensTable; admin: SqlDriver }> {
  const admin = await openDriver(s.spec());
  const table = new TokensTable(admin, unique('tokens'));
  t.after(async () => {
    await admin.run(`DROP TABLE IF EXISTS ${table.table}`, []);
    await admin.close();
  });
  await table.create();
  return { table, admin };
}
