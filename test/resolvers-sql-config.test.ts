// How a user's lookup query becomes a prepared statement (its one token
// placeholder in the driver's syntax, literals and comments untouched), and
// which SQL resolver configurations are refused at startup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../src/config/errors.js';
import { StoreError } from '../src/proxy/resolvers/types.js';
import { translatePlaceholders as tr } from '../src/proxy/resolvers/sql-placeholders.js';
import { startBackend } from './support/index.js';
import { makeResolver } from './support/resolvers.js';

test('each placeholder style becomes the driver syntax', () => {
  const original = 'SELECT nodehost, nodeport, connecthost, connectport FROM vnc WHERE vnckey = %s';
  assert.deepEqual(tr(original, 'mysql'), { sql: original.replace('%s', '?'), count: 1 });
  assert.deepEqual(tr(original, 'postgres'), { sql: original.replace('%s', '$1'), count: 1 });
  assert.deepEqual(tr('SELECT * FROM t WHERE k = ?', 'postgres'), { sql: 'SELECT * FROM t WHERE k = $1', count: 1 });
  assert.deepEqual(tr('SELECT * FROM t WHERE k = $1', 'sqlite'), { sql: 'SELECT * FROM t WHERE k = ?', count: 1 });
  // The token used twice is bound twice where placeholders are positional.
  assert.deepEqual(tr('SELECT * FROM t WHERE a = $1 OR b = $1', 'mysql'), { sql: 'SELECT * FROM t WHERE a = ? OR b = ?', count: 2 });
  assert.deepEqual(tr('SELECT * FROM t WHERE a = ? OR b = ?', 'postgres'), { sql: 'SELECT * FROM t WHERE a = $1 OR b = $1', count: 1 });
});

test('placeholders inside literals, quoted names and comments stay as written', () => {
  assert.equal(tr(`SELECT '?', 'it''s %s', "col?" FROM t -- ?\nWHERE k = ? /* $1 */`, 'postgres').sql, `SELECT '?', 'it''s %s', "col?" FROM t -- ?\nWHERE k = $1 /* $1 */`);
  assert.equal(tr("SELECT 'a\\'?', `x?` FROM t # ?\nWHERE k = %s", 'mysql').sql, "SELECT 'a\\'?', `x?` FROM t # ?\nWHERE k = ?");
  assert.equal(tr("SELECT E'a\\'?', $$ ? $$, $q$ $1 $q$ FROM t WHERE k = ?", 'postgres').sql, "SELECT E'a\\'?', $$ ? $$, $q$ $1 $q$ FROM t WHERE k = $1");
  assert.equal(tr('SELECT [a?] FROM t WHERE k = ?', 'sqlite').sql, 'SELECT [a?] FROM t WHERE k = ?');
  // $1 wins over ?: PostgreSQL's jsonb ? operator survives.
  assert.equal(tr("SELECT doc ? 'a' FROM t WHERE k = $1", 'postgres').sql, "SELECT doc ? 'a' FROM t WHERE k = $1");
  // Not placeholders: $10, a$1, %send.
  assert.throws(() => tr('SELECT a$1, %send FROM t', 'mysql'), /no placeholder/);
});

test('a query with no placeholder or a second parameter is refused', () => {
  assert.throws(() => tr("SELECT 'h' AS connecthost, 1 AS connectport WHERE 1 = '?'", 'sqlite'), /no placeholder/);
  assert.throws(() => tr('SELECT * FROM t WHERE a = $1 AND b = $2', 'postgres'), /second parameter/);
});

test('bad SQL resolver blocks are refused at startup, naming the field', async () => {
  const refused = async (block: Record<string, unknown>, field: RegExp) =>
    assert.rejects(makeResolver(block), (e: unknown) => e instanceof ConfigError && field.test(e.message), JSON.stringify(block));
  await refused({ type: 'sqlite', query: 'SELECT connecthost, connectport FROM t' }, /resolver\.query: has no placeholder/);
  await refused({ type: 'sqlite', query: 'SELECT * FROM t WHERE k = ?', table: 'tokens' }, /resolver\.table/);
  await refused({ type: 'sqlite', table: 'tokens; DROP TABLE x' }, /resolver\.table/);
  await refused({ type: 'sqlite', file: 'x.db' }, /resolver\.file: unknown field/);
  await refused({ type: 'postgres', url: 'postgres://127.0.0.1/test', host: '127.0.0.1' }, /resolver\.host: give either url/);
  await refused({ type: 'mysql', url: 'not a url' }, /resolver\.url/);
  await refused({ type: 'mysql', poolSize: 0 }, /resolver\.poolSize/);
});

test('building a resolver connects to nothing: a store that is down does not stop startup', { timeout: 10_000 }, async (t) => {
  for (const type of ['postgres', 'mysql']) {
    const r = await makeResolver({ type, host: '127.0.0.1', port: 1 });
    await r.close();
  }
  // A listener standing in for the database host counts the connections it gets (and hangs up).
  let connections = 0;
  const db = await startBackend((socket) => {
    connections++;
    socket.destroy();
  });
  t.after(() => db.close());
  for (const type of ['postgres', 'mysql']) {
    const r = await makeResolver({ type, host: '127.0.0.1', port: db.port });
    await sleep(100); // time for a pool that connects eagerly in the background to do so
    await r.close();
  }
  assert.equal(connections, 0, 'building (and closing) a resolver opened no connection');
  // The listener does see a lookup's connection, so the 0 above means something.
  const r = await makeResolver({ type: 'postgres', host: '127.0.0.1', port: db.port });
  await assert.rejects(r.resolve('tok', AbortSignal.timeout(5000)), StoreError);
  await r.close();
  assert.ok(connections > 0, 'a lookup connects to the listener');
});
