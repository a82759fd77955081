// What the log says, and what it must never say: why a token was refused
// (while the client learns nothing), no secret from the request path,
// each key once per line, IPv6 addresses in brackets, and keyed token
// fingerprints that agree within one gateway and nowhere else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closed, connect, handshakeStatus, rawRequest, runCli, spawnCli, startBackend, startGateway, tempDir, until, upgradeRequest } from './support/index.js';
import { capturedLog, parseLines, repeatedKeys } from './support/logs.js';
import { PG_CONNECTION, tokensTable } from './support/sql-stores.js';
import { runTokensCommand } from '../src/cli/tokens-command.js';
import { openDriver } from '../src/proxy/resolvers/sql-driver.js';
import { nowSeconds, TokensTable } from '../src/proxy/resolvers/tokens-table.js';

test('a refused token: the log says unknown, expired, used or revoked; the client gets a bare 403', { timeout: 20_000 }, async (t) => {
  const backend = await startBackend(() => {});
  t.after(() => backend.close());
  const db = join(tempDir(t, 'logs'), 'tokens.db');
  const driver = await openDriver({ dialect: 'sqlite', path: db, create: true });
  const table = new TokensTable(driver);
  await table.create();
  const port = backend.port;
  await table.add({ token: 'old', host: '127.0.0.1', port, expiresAt: nowSeconds() - 10 });
  await table.add({ token: 'once', host: '127.0.0.1', port, singleUse: true });
  await table.add({ token: 'gone', host: '127.0.0.1', port });
  await table.revoke('gone');
  await driver.close();

  const logs = capturedLog('trace');
  const gw = await startGateway({ routes: [{ path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'sqlite', path: db }, allow: [`127.0.0.1:${port}`] }] }, 'trace', logs.log);
  t.after(() => gw.stop());
  const first = await connect(gw.url('/vnc?token=once'), ['binary']);
  first.close();
  await closed(first);

  const want: Record<string, string> = { nope: 'unknown token', old: 'token expired', once: 'token used', gone: 'token revoked' };
  for (const token of Object.keys(want)) {
    const answer = await rawRequest(gw.port, upgradeRequest(`/vnc?token=${token}`, ['Sec-WebSocket-Protocol: binary']));
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n/, token);
    assert.equal(answer.split('\r\n\r\n')[1], '403 Forbidden\n', `${token}: the body names no reason`);
    assert.ok(!/unknown|expired|used|revoked/i.test(answer), `${token}: the answer says nothing of why`);
  }
  const lines = logs.lines();
  for (const reason of Object.values(want)) {
    assert.equal(lines.filter((l) => l.msg === reason).length, 1, `one "${reason}" line`);
    assert.equal(lines.filter((l) => l.msg === 'handshake refused' && l.status === 403 && l.reason === reason).length, 1, `the refusal's line says "${reason}"`);
  }
  assert.equal(await handshakeStatus(gw.url('/vnc?token=once'), ['binary']), 403);
});

/** Writes `config` as the gateway's config file (JSON is YAML) and returns its path. */
function configFile(dir: string, config: object): string {
  const file = join(dir, 'wsgate.yaml');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

test('a secret in the request path reaches no log line (every line, at trace level)', { timeout: 30_000 }, async (t) => {
  const secret = `Pth${randomBytes(8).toString('hex')}`;
  const backend = await startBackend((s) => s.on('data', (d) => s.write(d)));
  t.after(() => backend.close());
  const dir = tempDir(t, 'logs');
  writeFileSync(join(dir, 'tokens'), `${secret}: 127.0.0.1:${backend.port}\n`);
  const file = configFile(dir, {
    listen: '127.0.0.1:0',
    logLevel: 'trace',
    routes: [
      { path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'file', path: join(dir, 'tokens') }, allow: [`127.0.0.1:${backend.port}`] },
      { path: '*', handler: 'echo' },
    ],
  });
  const cli = await spawnCli(['--config', file]);
  t.after(() => cli.child.kill('SIGKILL'));
  const url = (path: string) => `ws://127.0.0.1:${cli.port}${path}`;
  // The token where it belongs (the query), and where clients put it by mistake or on purpose (the path).
  const paths = [
    `/vnc?token=${secret}`,
    `/vnc%3Ftoken=${secret}`,
    `/websockify%3Ftoken=${secret}`,
    `/websockify%3ftoken%3d${secret}`,
    `/vnc/${secret}`,
    `/websockify/${secret}`,
    `/${secret}`,
    `/${secret}/vnc`,
    `/vnc;token=${secret}`,
  ];
  for (const path of paths) {
    const ws = await connect(url(path), ['binary']);
    ws.send(Buffer.from('ping'));
    const [data] = await once(ws, 'message');
    assert.equal(String(data), 'ping', path);
    ws.close();
    await closed(ws);
  }
  assert.equal(await handshakeStatus(url(`/vnc?token=${secret}x`), ['binary']), 403);
  assert.match(await rawRequest(cli.port, `GET /${secret} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 426/);
  cli.child.kill('SIGTERM');
  const out = await cli.exited;
  const lines = parseLines(out.stdout);
  assert.ok(lines.filter((l) => l.msg === 'session closed').length === paths.length, 'every session was logged');
  for (const line of `${out.stdout}\n${out.stderr}`.split('\n')) assert.ok(!line.includes(secret), `a log line holds the secret: ${line}`);
  const logged = new Set(lines.filter((l) => l.path !== undefined && l.msg !== 'route ready' && l.msg !== 'token file loaded').map((l) => l.path));
  assert.deepEqual([...logged].sort(), ['/vnc', '/vnc/…', '/vnc…', '/websockify/…', '/websockify…', '/…'].sort());
});

test('a PostgreSQL route\'s lines carry each key once (store is not repeated)', { timeout: 20_000 }, async (t) => {
  const { table } = await tokensTable(t, { type: 'postgres', connection: () => PG_CONNECTION, spec: () => ({ dialect: 'postgres', ...PG_CONNECTION }), unreachable: {} });
  const file = configFile(tempDir(t, 'logs'), {
    listen: '127.0.0.1:0',
    logLevel: 'trace',
    routes: [{ path: '/pg', handler: 'tcp-proxy', resolver: { type: 'postgres', ...PG_CONNECTION, table: table.table } }],
  });
  const cli = await spawnCli(['--config', file]);
  t.after(() => cli.child.kill('SIGKILL'));
  await until(() => cli.output().split('\n').some((l) => l.includes('"route":"/pg"') && l.includes('"channel":')), { timeoutMs: 10_000, what: "the revocation listener's line" });
  assert.equal(await handshakeStatus(`ws://127.0.0.1:${cli.port}/pg?token=nope`, ['binary']), 403);
  cli.child.kill('SIGTERM');
  const out = await cli.exited;
  const raw = out.stdout.split('\n').filter(Boolean);
  const storeLines = raw.filter((l) => l.includes('"route":"/pg"') && l.includes('"store":'));
  for (const line of storeLines) {
    assert.equal(line.split('"store":').length - 1, 1, `"store" once: ${line}`);
    assert.equal(parseLines(line)[0]!.store, 'postgres');
  }
  for (const line of raw) assert.deepEqual(repeatedKeys(line), [], line);
  assert.ok(storeLines.some((l) => l.includes('"msg":"revocations: listening"')), 'the listener\'s line is among them');
  assert.ok(storeLines.some((l) => l.includes('"msg":"store connected"')), 'the pool\'s line is among them');
});

/** A port on ::1 where nothing listens (null if this host has no IPv6 loopback). */
async function refusedIpv6Port(): Promise<number | null> {
  const probe = net.createServer();
  try {
    probe.listen(0, '::1');
    await once(probe, 'listening');
  } catch {
    return null;
  }
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test('IPv6 addresses are logged in brackets: targets, refusals, store errors', { timeout: 20_000 }, async (t) => {
  const closedPort = await refusedIpv6Port();
  if (closedPort === null) return t.skip('no IPv6 loopback');
  const backend = net.createServer((s) => s.on('error', () => {}).on('data', (d) => s.write(d)));
  backend.listen(0, '::1');
  await once(backend, 'listening');
  t.after(() => new Promise((resolve) => backend.close(resolve)));
  const live = (backend.address() as net.AddressInfo).port;
  const dir = tempDir(t, 'logs');
  writeFileSync(join(dir, 'tokens'), `bare: ::1:${live}\nbracketed: [::1]:${live}\nelsewhere: ::1:${closedPort}\n`);
  const logs = capturedLog('trace');
  const store = (type: string, url: string) => ({ path: `/${type}`, handler: 'tcp-proxy', resolver: { type, url, timeout: 1 } });
  const gw = await startGateway(
    {
      routes: [
        { path: '/fixed', handler: 'tcp-proxy', target: `::1:${live}` },
        { path: '/dead', handler: 'tcp-proxy', target: `::1:${closedPort}` },
        { path: '/file', handler: 'tcp-proxy', resolver: { type: 'file', path: join(dir, 'tokens') }, allow: [`[::1]:${live}`] },
        store('redis', `redis://[::1]:${closedPort}`),
        store('postgres', `postgres://wsgate@[::1]:${closedPort}/db`),
        store('mysql', `mysql://wsgate@[::1]:${closedPort}/db`),
        store('http', `http://[::1]:${closedPort}/t/%s`),
      ],
    },
    'trace',
    logs.log,
  );
  t.after(() => gw.stop());
  for (const path of ['/fixed', '/file?token=bare', '/file?token=bracketed']) {
    const ws = await connect(gw.url(path), ['binary']);
    ws.close();
    await closed(ws);
  }
  assert.equal(await handshakeStatus(gw.url('/dead'), ['binary']), 502);
  assert.equal(await handshakeStatus(gw.url('/file?token=elsewhere'), ['binary']), 403);
  for (const type of ['redis', 'postgres', 'mysql', 'http']) assert.equal(await handshakeStatus(gw.url(`/${type}?token=abc`), ['binary']), 503, type);
  const failing = (route: string) => logs.raw.some((l) => l.includes(`"route":"${route}"`) && l.includes('ECONNREFUSED'));
  await until(() => failing('/redis') && failing('/postgres'), { timeoutMs: 5000, what: 'both revocation watches failing' });

  const lines = logs.lines();
  const bracketed = `[::1]:${live}`;
  assert.equal(lines.filter((l) => l.msg === 'session open' && l.target === bracketed).length, 3);
  assert.ok(lines.some((l) => l.msg === 'handshake refused' && String(l.reason).includes(`[::1]:${closedPort}`)), 'the dial failure names the target in brackets');
  assert.ok(lines.some((l) => l.msg === 'target outside the allowlist' && l.target === `[::1]:${closedPort}`));
  for (const type of ['redis', 'postgres', 'mysql', 'http']) {
    assert.ok(lines.some((l) => l.msg === 'token store unavailable' && l.route === undefined && String(l.err).includes(`[::1]:${closedPort}`) && l.path === `/${type}`), `${type}: the store error names [::1]:${closedPort}`);
  }
  // Nowhere an IPv6 address followed by :port without brackets.
  for (const raw of logs.raw) assert.doesNotMatch(raw, /(^|[^[\w:])::1:\d/, raw);
});

test('token fingerprints are keyed: one per gateway run, shared by its workers, equal across gateways with the same key', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t, 'logs');
  writeFileSync(join(dir, 'tokens'), 'other: 127.0.0.1:9\n');
  const key = randomBytes(24).toString('base64url');
  const keyFile = join(dir, 'fingerprint.key');
  writeFileSync(keyFile, `${key}\n`);
  const token = 'my-desk'; // short: unkeyed, its fingerprint could be found by trying names
  const base = { listen: '127.0.0.1:0', routes: [{ path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'file', path: join(dir, 'tokens') }, allow: ['127.0.0.1:9'] }] };
  let runs = 0;
  /** The fingerprint (and worker) of each "unknown token" line of one gateway run. */
  const fingerprints = async (config: object, args: string[] = [], env: Record<string, string> = {}) => {
    const file = join(dir, `wsgate-${runs++}.yaml`);
    writeFileSync(file, JSON.stringify(config));
    const cli = await spawnCli(['--config', file, ...args], env);
    t.after(() => cli.child.kill('SIGKILL'));
    for (let i = 0; i < 6; i++) assert.equal(await handshakeStatus(`ws://127.0.0.1:${cli.port}/vnc?token=${token}`, ['binary']), 403);
    cli.child.kill('SIGTERM');
    const out = await cli.exited;
    const lines = parseLines(out.stdout).filter((l) => l.msg === 'unknown token');
    assert.equal(lines.length, 6);
    return lines.map((l) => ({ fingerprint: String(l.token), worker: l.worker }));
  };

  const workers = await fingerprints(base, ['--workers', '2']);
  assert.deepEqual(new Set(workers.map((l) => l.worker)), new Set([1, 2]), 'lines from both workers');
  assert.equal(new Set(workers.map((l) => l.fingerprint)).size, 1, 'both workers fingerprint the token alike');
  const fingerprint = workers[0]!.fingerprint;
  assert.match(fingerprint, /^[0-9a-f]{12}$/);
  assert.notEqual(fingerprint, createHash('sha256').update(token).digest('hex').slice(0, 12), 'not the unkeyed SHA-256');
  const another = await fingerprints(base);
  assert.notEqual(another[0]!.fingerprint, fingerprint, 'another gateway without a key: another fingerprint');

  const fromFile = await fingerprints({ ...base, fingerprintKeyFile: keyFile });
  const fromEnv = await fingerprints(base, [], { WSGATE_FINGERPRINT_KEY: key });
  assert.equal(new Set([...fromFile, ...fromEnv].map((l) => l.fingerprint)).size, 1, 'the same key, the same fingerprint');
  assert.notEqual(fromFile[0]!.fingerprint, fingerprint);
  assert.notEqual(fromFile[0]!.fingerprint, createHash('sha256').update(token).digest('hex').slice(0, 12));

  // `wsgate tokens` given the key names the token as the gateway's logs do; without one it says its fingerprints are this run's.
  let err = '';
  const io = { out: () => {}, err: (text: string) => void (err += text) };
  assert.equal(await runTokensCommand(['add', token, '127.0.0.1:9', '--db', join(dir, 't.db'), '--fingerprint-key-file', keyFile], io), 0);
  assert.match(err, new RegExp(`^added token ${fromFile[0]!.fingerprint} \\(fingerprint\\)`, 'm'));
  assert.doesNotMatch(err, /this run/);
  err = '';
  assert.equal(await runTokensCommand(['remove', token, '--db', join(dir, 't.db')], io), 0);
  assert.match(err, /fingerprints are this run's only/);
  assert.doesNotMatch(err, new RegExp(fromFile[0]!.fingerprint));
});

test('a fingerprint key that is too short or unreadable is refused at start (exit 2)', { timeout: 20_000 }, async (t) => {
  const dir = tempDir(t, 'logs');
  writeFileSync(join(dir, 'short.key'), 'tooshort\n');
  const file = configFile(dir, { listen: '127.0.0.1:0', fingerprintKeyFile: 'short.key', routes: [{ path: '/e', handler: 'echo' }] });
  const short = await runCli(['--config', file]);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /wsgate\.yaml:1: fingerprintKeyFile: .*short\.key: a fingerprint key needs at least 16 characters/);
  const missing = await runCli(['--config', configFile(dir, { listen: '127.0.0.1:0', fingerprintKeyFile: 'none.key', routes: [{ path: '/e', handler: 'echo' }] })]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /fingerprintKeyFile: cannot read .*none\.key: ENOENT/);
  const env = await runCli(['127.0.0.1:0', '127.0.0.1:9'], 10_000, { WSGATE_FINGERPRINT_KEY: 'short' });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /WSGATE_FINGERPRINT_KEY: a fingerprint key needs at least 16 characters/);
});
