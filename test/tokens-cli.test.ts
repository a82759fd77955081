// `wsgate tokens ...` through its function: a temp SQLite file by default,
// PostgreSQL and MariaDB stores by URL, exit codes, and the resolver
// honouring what the command wrote.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runTokensCommand } from '../src/cli/tokens-command.js';
import { openDriver } from '../src/proxy/resolvers/sql-driver.js';
import { parseTokenFiles } from '../src/proxy/resolvers/token-file.js';
import { tempDir } from './support/index.js';
import { makeResolver, within } from './support/resolvers.js';
import { MYSQL_CONNECTION, PG_CONNECTION, unique } from './support/sql-stores.js';

const dir = tempDir(after, 'tokens');

/** Runs the command; returns its exit code and what it printed. */
async function tokens(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runTokensCommand(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

test('add, list, revoke and remove on a SQLite file', { timeout: 10_000 }, async (t) => {
  const db = join(dir, 'a.db');
  assert.equal((await tokens('list', '--db', db)).code, 1, 'no file yet: a store error');
  let r = await tokens('add', 'tok-1', '127.0.0.1:5901', '--db', db, '--param', 'nodehost=10.0.0.5', '--param', 'nodeport=5900');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '', 'a given token is not echoed');
  assert.doesNotMatch(r.err, /tok-1/, 'nor written to stderr');
  r = await tokens('add', '[::1]:5902', '--db', db, '--single-use', '--expires', '3600');
  assert.equal(r.code, 0, r.err);
  const generated = r.out.trim();
  assert.match(generated, /^[A-Za-z0-9_-]{32}$/);
  assert.equal((await tokens('add', 'tok-1', '127.0.0.1:1', '--db', db)).code, 1, 'exists already');
  await tokens('add', 'tok-old', '127.0.0.1:5903', '--db', db, '--expires', '2001-01-01T00:00:00Z');

  const list = await tokens('list', '--db', db);
  assert.equal(list.code, 0);
  assert.match(list.out, /^tok-1 +127\.0\.0\.1:5901 +active +- +many +nodehost=10\.0\.0\.5 nodeport=5900$/m);
  assert.match(list.out, new RegExp(`^${generated} +\\[::1\\]:5902 +active +\\S+Z +once$`, 'm'));
  assert.match(list.out, /^tok-old +127\.0\.0\.1:5903 +expired +2001-01-01T00:00:00\.000Z/m);
  const json = JSON.parse((await tokens('list', '--json', '--db', db)).out) as Array<{ token: string; state: string; params: object }>;
  const states = Object.fromEntries(json.map((x) => [x.token, x.state]));
  assert.deepEqual(states, { 'tok-1': 'active', [generated]: 'active', 'tok-old': 'expired' });

  // What the command wrote is what a route's resolver serves.
  const resolver = await makeResolver({ type: 'sqlite', path: db });
  t.after(() => resolver.close());
  assert.deepEqual((await resolver.resolve('tok-1', within()))?.params, { nodehost: '10.0.0.5', nodeport: '5900', host: '127.0.0.1', port: '5901' });
  assert.equal((await resolver.resolve(generated, within()))?.singleUse, true);
  assert.equal(await resolver.consume!(generated, within()), true);
  assert.match((await tokens('list', '--db', db)).out, new RegExp(`^${generated} .* used `, 'm'));

  assert.equal((await tokens('revoke', 'tok-1', '--db', db)).code, 0);
  assert.deepEqual(await resolver.resolve('tok-1', within()), { refused: 'revoked' });
  assert.match((await tokens('list', '--db', db)).out, /^tok-1 .* revoked /m);
  assert.equal((await tokens('remove', 'tok-1', '--db', db)).code, 0);
  assert.equal((await tokens('remove', 'tok-1', '--db', db)).code, 1, 'gone already');
  assert.equal((await tokens('revoke', 'nope', '--db', db)).code, 1);
  assert.doesNotMatch((await tokens('list', '--db', db)).out, /tok-1/);
});

test('usage errors exit 2 and say why; --help exits 0', { timeout: 10_000 }, async () => {
  const db = join(dir, 'usage.db');
  const cases: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['frobnicate'], /unknown command/],
    [['add'], /\[TOKEN\] HOST:PORT/],
    [['add', 'tok', 'nohost'], /not HOST:PORT/],
    // A bare IPv6 host is accepted (the token file's rule, tested below); a colon in any other host is not.
    [['add', 'tok', 'a:b:5900'], /not HOST:PORT/],
    [['add', 'tok', 'h:1', '--expires', 'soon'], /--expires/],
    [['add', 'tok', 'h:1', '--param', 'novalue'], /NAME=VALUE/],
    [['add', 'tok', 'h:1', '--param', 'host=x'], /HOST:PORT/],
    [['add', 'to k', 'h:1'], /spaces or control/],
    [['list', '--single-use'], /add only/],
    [['list', '--db', 'a.db', '--postgres', 'postgres://x/y'], /one store/],
    [['list', '--table', 'x; DROP'], /table name/],
    [['list', '--bogus'], /bogus/],
    [['remove'], /one TOKEN/],
  ];
  for (const [argv, why] of cases) {
    const r = await tokens(...argv, ...(argv.includes('--db') || argv.includes('--postgres') ? [] : ['--db', db]));
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, why, argv.join(' '));
  }
  const help = await tokens('--help');
  assert.equal(help.code, 0);
  assert.match(help.out, /Usage: wsgate tokens/);
});

test('`tokens add` and a token file read the same HOST:PORT text the same way', { timeout: 10_000 }, async (t) => {
  const db = join(dir, 'agree.db');
  const targets = ['127.0.0.1:5901', '[::1]:5902', '::1:5903', 'fe80::1:5904', 'vnc.example.org:5905'];
  const refused = ['nohost', 'a:b:5900', 'h:0', 'h:70000', '[::1]', ':5900'];
  const fileTable = parseTokenFiles([{ file: 'tokens.cfg', text: targets.map((target, i) => `t${i}: ${target}`).join('\n') }]);
  for (const [i, target] of targets.entries()) {
    const r = await tokens('add', `t${i}`, target, '--db', db);
    assert.equal(r.code, 0, `${target}: ${r.err}`);
  }
  const resolver = await makeResolver({ type: 'sqlite', path: db });
  t.after(() => resolver.close());
  for (const i of targets.keys()) {
    const fromDb = await resolver.resolve(`t${i}`, within());
    assert.deepEqual({ host: fromDb?.host, port: fromDb?.port }, fileTable.get(`t${i}`), targets[i]);
  }
  for (const bad of refused) {
    assert.equal((await tokens('add', 'x', bad, '--db', db)).code, 2, `tokens add ${bad}`);
    assert.throws(() => parseTokenFiles([{ file: 'tokens.cfg', text: `x: ${bad}` }]), /tokens\.cfg line 1/, `token file ${bad}`);
  }
});

test('PostgreSQL and MariaDB stores by URL, with their own table', { timeout: 20_000 }, async (t) => {
  const stores = [
    { option: '--postgres', url: `postgres://${PG_CONNECTION.user}@${PG_CONNECTION.host}:${PG_CONNECTION.port}/${PG_CONNECTION.database}`, spec: { dialect: 'postgres' as const, ...PG_CONNECTION } },
    { option: '--mysql', url: `mysql://${MYSQL_CONNECTION.user}@${MYSQL_CONNECTION.host}:${MYSQL_CONNECTION.port}/${MYSQL_CONNECTION.database}`, spec: { dialect: 'mysql' as const, ...MYSQL_CONNECTION } },
  ];
  for (const { option, url, spec } of stores) {
    const table = unique('cli_tokens');
    t.after(async () => {
      const admin = await openDriver(spec);
      await admin.run(`DROP TABLE IF EXISTS ${table}`, []);
      await admin.close();
    });
    const store = [option, url, '--table', table];
    assert.equal((await tokens('add', 'Tok', '127.0.0.1:5901', ...store)).code, 0, option);
    assert.equal((await tokens('add', 'tok', '127.0.0.1:5902', ...store)).code, 0, `${option}: tokens are case-sensitive`);
    assert.equal((await tokens('revoke', 'Tok', ...store)).code, 0, option);
    const list = await tokens('list', ...store);
    assert.match(list.out, /^Tok +127\.0\.0\.1:5901 +revoked/m, option);
    assert.match(list.out, /^tok +127\.0\.0\.1:5902 +active/m, option);
    assert.equal((await tokens('remove', 'tok', ...store)).code, 0, option);
  }
  const down = await tokens('list', '--postgres', 'postgres://postgres@127.0.0.1:1/test');
  assert.equal(down.code, 1);
  assert.match(down.err, /postgres 127\.0\.0\.1:1/);
});
