// The SQLite resolver (the embedded default) against a real database file:
// the shared SQL behaviour, plus what is SQLite's own (read-only custom
// queries, a database file that appears after the gateway started).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDriver } from '../src/proxy/resolvers/sql-driver.js';
import { StoreError } from '../src/proxy/resolvers/types.js';
import { TokensTable } from '../src/proxy/resolvers/tokens-table.js';
import { tempDir } from './support/index.js';
import { makeResolver, within } from './support/resolvers.js';
import { resolverFor, sqlResolverSuite, tableFor, type StoreUnderTest } from './support/sql-stores.js';

const dir = tempDir(after, 'sqlite');
const file = join(dir, 'store.db');

const sqlite: StoreUnderTest = {
  type: 'sqlite',
  connection: () => ({ path: file }),
  spec: () => ({ dialect: 'sqlite', path: file, create: true }),
  unreachable: { path: join(dir, 'no-such-dir', 'store.db') },
};

sqlResolverSuite(sqlite);

test('sqlite: a custom query runs on a read-only connection', { timeout: 10_000 }, async (t) => {
  const { name } = await tableFor(t, sqlite, 'vnc', (n) => `CREATE TABLE ${n} (vnckey TEXT, connecthost TEXT, connectport INTEGER)`);
  const r = await resolverFor(t, sqlite, { query: `SELECT connecthost, connectport FROM ${name} WHERE vnckey = ?; ` });
  assert.equal(await r.resolve('k', within()), null);
  // A "query" that writes fails (as a store error), and changes nothing.
  const writer = await resolverFor(t, sqlite, { query: `DELETE FROM ${name} WHERE vnckey = ? RETURNING connecthost, connectport` });
  await assert.rejects(writer.resolve('k', within()), (e: unknown) => e instanceof StoreError && /readonly/i.test(e.message));
});

test('sqlite: the tokens file may be created after the resolver (503 until then, no restart)', { timeout: 10_000 }, async (t) => {
  const later = join(dir, 'later.db');
  const r = await resolverFor(t, sqlite, { path: later });
  await assert.rejects(r.resolve('tok', within()), (e: unknown) => e instanceof StoreError && e.message.includes('wsgate tokens add'));
  const driver = await openDriver({ dialect: 'sqlite', path: later, create: true });
  t.after(() => driver.close());
  const table = new TokensTable(driver);
  await table.create();
  await table.add({ token: 'tok', host: '127.0.0.1', port: 5901 });
  assert.equal((await r.resolve('tok', within()))?.port, 5901);
});

test('sqlite: path defaults to wsgate-tokens.db in the config folder', { timeout: 10_000 }, async (t) => {
  const r = await makeResolver({ type: 'sqlite' }, dir);
  t.after(() => r.close());
  await assert.rejects(r.resolve('tok', within()), (e: unknown) => e instanceof StoreError && e.store === `sqlite ${join(dir, 'wsgate-tokens.db')}`);
});
