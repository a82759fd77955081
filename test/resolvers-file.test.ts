// The token-file resolver: websockify's format (comments, IPv6 both ways, a
// directory of files), reloads while running (through fs.watch and through
// the stat fallback alone), and a broken edit that keeps the last good table.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { tempDir, until } from './support/index.js';
import { makeResolver, resolverEnv, within } from './support/resolvers.js';
import { create } from '../src/proxy/resolvers/token-file.js';
import { ReloadingFiles } from '../src/proxy/resolvers/reloading-files.js';
import { parseTokenFiles } from '../src/proxy/resolvers/token-file.js';
import type { TargetResolver } from '../src/proxy/resolvers/types.js';

async function fileResolver(t: TestContext, file: string): Promise<TargetResolver> {
  const resolver = await makeResolver({ type: 'file', path: file });
  t.after(() => resolver.close());
  return resolver;
}

const lookup = async (r: TargetResolver, token: string) => {
  const hit = await r.resolve(token, within());
  return hit && `${hit.host} ${hit.port}`;
};

test('token file: hits, misses, comments, blank lines, IPv6 in both forms, host names', { timeout: 5000 }, async (t) => {
  const dir = tempDir(t, 'tokens');
  const file = path.join(dir, 'tokens.cfg');
  await writeFile(file, ['# vnc hosts', '', 'alpha: 127.0.0.1:5901', '  beta:  [::1]:5902  ', 'gamma: ::1:5903', 'delta: vnc.example.org:5904\r', '#epsilon: 127.0.0.1:1'].join('\n'));
  const r = await fileResolver(t, file);
  assert.deepEqual(await r.resolve('alpha', within()), { host: '127.0.0.1', port: 5901, params: {} });
  assert.equal(await lookup(r, 'beta'), '::1 5902');
  assert.equal(await lookup(r, 'gamma'), '::1 5903');
  assert.equal(await lookup(r, 'delta'), 'vnc.example.org 5904');
  assert.equal(await lookup(r, 'epsilon'), null);
  assert.equal(await lookup(r, '#epsilon'), null);
  assert.equal(await lookup(r, 'missing'), null);
  assert.equal(r.kind, 'file');
});

test('token file: a directory of files, read in name order, dotfiles and backups skipped', { timeout: 5000 }, async (t) => {
  const dir = tempDir(t, 'tokens');
  await writeFile(path.join(dir, 'a.cfg'), 'one: 127.0.0.1:1001\nshared: 127.0.0.1:1002\n');
  await writeFile(path.join(dir, 'b.cfg'), 'two: 127.0.0.1:2001\nshared: 127.0.0.1:2002\n');
  await writeFile(path.join(dir, '.b.cfg.swp'), 'not a token file at all');
  await writeFile(path.join(dir, 'b.cfg~'), 'old: 127.0.0.1:3001\n');
  await mkdir(path.join(dir, 'nested'));
  const r = await fileResolver(t, dir);
  assert.equal(await lookup(r, 'one'), '127.0.0.1 1001');
  assert.equal(await lookup(r, 'two'), '127.0.0.1 2001');
  assert.equal(await lookup(r, 'shared'), '127.0.0.1 2002');
  assert.equal(await lookup(r, 'old'), null);
});

test('token file: edits while running are seen (in place, by rename, a new file in the directory)', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t, 'tokens');
  const file = path.join(dir, 'tokens.cfg');
  await writeFile(file, 'old: 127.0.0.1:5901\n');
  const r = await fileResolver(t, file);
  assert.equal(await lookup(r, 'old'), '127.0.0.1 5901');

  await writeFile(file, 'new: 127.0.0.1:5902\n');
  await until(async () => (await lookup(r, 'new')) === '127.0.0.1 5902', { timeoutMs: 2000, what: 'the reload adding "new"' });
  assert.equal(await lookup(r, 'old'), null);

  // Deploy tools replace the file atomically: a new inode under the same name.
  await writeFile(path.join(dir, 'tokens.tmp'), 'newer: 127.0.0.1:5903\n');
  await rename(path.join(dir, 'tokens.tmp'), file);
  await until(async () => (await lookup(r, 'newer')) === '127.0.0.1 5903', { timeoutMs: 2000, what: 'the reload adding "newer"' });
  assert.equal(await lookup(r, 'new'), null);

  const sub = path.join(dir, 'd');
  await mkdir(sub);
  await writeFile(path.join(sub, 'a.cfg'), 'a: 127.0.0.1:1\n');
  const rd = await fileResolver(t, sub);
  await writeFile(path.join(sub, 'b.cfg'), 'b: 127.0.0.1:2\n');
  await until(async () => (await lookup(rd, 'b')) === '127.0.0.1 2', { timeoutMs: 2000, what: 'the reload adding "b"' });
  await rm(path.join(sub, 'a.cfg'));
  await until(async () => (await lookup(rd, 'a')) === null, { timeoutMs: 2000, what: 'the reload dropping "a"' });
});

test('token file: a broken edit keeps the last good table and logs file and line; fixing it reloads', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t, 'tokens');
  const file = path.join(dir, 'tokens.cfg');
  await writeFile(file, 'good: 127.0.0.1:5901\n');
  const warnings: Array<{ err?: string }> = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { err?: string }) });
  const r = await create({ ...resolverEnv({ type: 'file', path: file }), log });
  t.after(() => r.close());

  await writeFile(file, 'good: 127.0.0.1:5901\nadded: 127.0.0.1:5902\nbroken 127.0.0.1:5903\n');
  await until(() => warnings.some((w) => w.err?.includes(`${file} line 3`)), { timeoutMs: 2000, what: 'a warning naming line 3' });
  assert.equal(await lookup(r, 'good'), '127.0.0.1 5901');
  assert.equal(await lookup(r, 'added'), null, 'nothing of a broken file is taken');

  await writeFile(file, 'added: 127.0.0.1:5902\n');
  await until(async () => (await lookup(r, 'added')) === '127.0.0.1 5902', { timeoutMs: 2000, what: 'the reload adding "added"' });
  assert.equal(await lookup(r, 'good'), null);
});

test('token file: without change notifications, the stat check at lookup time finds edits', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t, 'tokens');
  const file = path.join(dir, 'tokens.cfg');
  await writeFile(file, 'a: 127.0.0.1:1\n');
  const log = pino({ level: 'silent' });
  const source = await ReloadingFiles.open({ path: file, parse: parseTokenFiles, log, what: 'token file', watch: false, checkEveryMs: 200 });
  t.after(() => source.close());
  await writeFile(file, 'a: 127.0.0.1:1\nb: 127.0.0.1:2\n');
  const started = Date.now();
  await until(() => source.value.has('b'), { timeoutMs: 2000, what: 'the reload adding "b"' });
  assert.ok(Date.now() - started >= 150, 'not before a check was due');
  await source.settled();
});

test('token file: bad lines, a missing file refuse the configuration, naming file and line', { timeout: 5000 }, async (t) => {
  const dir = tempDir(t, 'tokens');
  const file = path.join(dir, 'tokens.cfg');
  const cases: Array<[string, RegExp]> = [
    ['ok: 127.0.0.1:1\nno-space:127.0.0.1:2\n', /line 2: expected "token: host:port"/],
    ['a: 127.0.0.1\n', /line 1: expected host:port/],
    ['a: 127.0.0.1:70000\n', /line 1: bad port "70000"/],
    ['a: b: 127.0.0.1:1\n', /line 1: expected/],
    [': 127.0.0.1:1\n', /line 1: expected/],
  ];
  for (const [text, why] of cases) {
    await writeFile(file, text);
    await assert.rejects(makeResolver({ type: 'file', path: file }), (err: Error) => err.name === 'ConfigError' && why.test(err.message) && err.message.includes(file));
  }
  await assert.rejects(makeResolver({ type: 'file', path: path.join(dir, 'nope.cfg') }), /ENOENT/);
  await assert.rejects(makeResolver({ type: 'file' }), /path/);
  // Relative paths are resolved against the config's folder.
  await writeFile(file, 'rel: 127.0.0.1:7\n');
  const r = await makeResolver({ type: 'file', path: 'tokens.cfg' }, dir);
  t.after(() => r.close());
  assert.equal(await lookup(r, 'rel'), '127.0.0.1 7');
});
