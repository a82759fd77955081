// Authentication on the upgrade, on real sockets: HTTP Basic against a users
// file (bcrypt and argon2id hashes) and websockify's BasicHTTPAuth on the
// real CLI, failed attempts locked out per address, JWTs (secret, key file,
// JWKS URL; expired, wrong audience, wrong key), client certificates over a
// real TLS connection, and checks that compose. The identity that passed is
// in the session list and the session's log lines; every refusal leaves the
// gateway up and empty.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcryptjs';
import * as argon2 from 'argon2';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { WebSocket } from 'ws';
import { closed, connect, sessionsDrained, spawnCli, startBackend, startGateway, tempDir, until, type RunningGateway } from './support/index.js';
import { answerOf, basic, health, makePki, sessionList, type Pki } from './support/edge.js';

const dir = tempDir(after, 'auth');
const usersFile = join(dir, 'users.txt');
let pki: Pki;

before(async () => {
  // Low costs keep the test quick; the file format is what matters here.
  const alice = await bcrypt.hash('alice-pw', 4);
  const bob = await argon2.hash('bob-pw', { type: argon2.argon2id, memoryCost: 4096, timeCost: 2, parallelism: 1 });
  // htpasswd -B writes bcrypt as $2y$.
  const dave = (await bcrypt.hash('dave-pw', 4)).replace('$2b$', '$2y$');
  await writeFile(usersFile, `# user:hash\nalice:${alice}\n\nbob:${bob}\ndave:${dave}\n`);
  pki = makePki(dir);
});

/** Every refusal leaves the gateway serving and without sessions. */
async function assertClean(gw: RunningGateway): Promise<void> {
  await sessionsDrained(gw.gateway);
  assert.deepEqual((await health(gw.port)).body.status, 'ok');
}

async function withGateway(raw: Record<string, unknown>, fn: (gw: RunningGateway) => Promise<void>): Promise<void> {
  const gw = await startGateway({ sessionsPath: '/sessions', ...raw });
  try {
    await fn(gw);
    await assertClean(gw);
  } finally {
    await gw.stop();
  }
}

test('Basic against a users file: bcrypt and argon2id hashes accepted; wrong, unknown or missing credentials get 401 with the challenge', async () => {
  await withGateway({ routes: [{ path: '/e', handler: 'echo', auth: [{ type: 'basic', users: usersFile }] }] }, async (gw) => {
    const at = (headers?: Record<string, string>) => answerOf(gw.url('/e'), { headers });
    assert.equal((await at(basic('alice', 'alice-pw'))).status, 101);
    assert.equal((await at(basic('bob', 'bob-pw'))).status, 101);
    assert.equal((await at(basic('dave', 'dave-pw'))).status, 101);
    for (const headers of [basic('alice', 'wrong'), basic('bob', 'alice-pw'), basic('carol', 'alice-pw'), undefined, { Authorization: 'Bearer x.y.z' }]) {
      const a = await at(headers);
      assert.equal(a.status, 401, JSON.stringify(headers));
      assert.equal(a.headers['www-authenticate'], 'Basic realm="wsgate"');
    }
    // The identity that passed is in the session list.
    const ws = await connect(gw.url('/e'), undefined, { headers: basic('alice', 'alice-pw') });
    const [listed] = await sessionList(gw.port);
    assert.deepEqual(listed!.identity, { user: 'alice' });
    ws.close();
    await closed(ws);
  });
});

test('failed attempts are limited per address: after max failures 429 with Retry-After (even for the right password), until the lockout ends', async () => {
  const raw = { authFailures: { max: 3, window: 60, lockout: 1 }, routes: [{ path: '/e', handler: 'echo', auth: [{ type: 'basic', users: usersFile }] }] };
  await withGateway(raw, async (gw) => {
    const at = (headers: Record<string, string>, localAddress?: string) => answerOf(gw.url('/e'), { headers, localAddress });
    // No credentials at all do not count: a client may first try without, then answer the challenge.
    for (let i = 0; i < 5; i++) assert.equal((await answerOf(gw.url('/e'))).status, 401);
    for (let i = 0; i < 3; i++) assert.equal((await at(basic('alice', `guess-${i}`))).status, 401);
    const locked = await at(basic('alice', 'alice-pw'));
    assert.equal(locked.status, 429);
    assert.equal(locked.headers['retry-after'], '1');
    assert.equal((await at(basic('alice', 'alice-pw'), '127.0.0.2')).status, 101, 'another address is not locked out');
    await until(async () => (await at(basic('alice', 'alice-pw'))).status === 101, { timeoutMs: 3000, everyMs: 100, what: 'the lockout to end' });
  });
});

test("websockify's --auth-plugin BasicHTTPAuth on the real CLI; the user is in the session's log lines; the lockout is logged once", async (t) => {
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const cli = await spawnCli(['--auth-plugin', 'BasicHTTPAuth', '--auth-source', 'carol:pa:ss', '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => cli.child.kill('SIGKILL'));
  const url = `ws://127.0.0.1:${cli.port}/`;
  const ws = await connect(url, undefined, { headers: basic('carol', 'pa:ss') });
  ws.send('hi');
  assert.equal(String((await new Promise((r) => ws.once('message', r))) as Buffer), 'hi');
  ws.close();
  await closed(ws);
  await until(() => /"identity":\{"user":"carol"\}[^\n]*"msg":"session closed"/.test(cli.output()), { timeoutMs: 5000, what: () => `no session closed line with the user: ${cli.output()}` });
  assert.match(cli.output(), /"identity":\{"user":"carol"\}[^\n]*"msg":"session open"/);
  for (const headers of [basic('carol', 'pa'), basic('carol', 'pa:ss '), basic('Carol', 'pa:ss'), {}]) assert.equal((await answerOf(url, { headers })).status, 401);
  for (let i = 0; i < 6; i++) await answerOf(url, { headers: basic('carol', 'nope') });
  assert.equal((await answerOf(url, { headers: basic('carol', 'pa:ss') })).status, 429);
  assert.equal(cli.output().split('too many failed authentications').length - 1, 1, 'the lockout is logged once');
  assert.ok(!cli.output().includes('pa:ss') && !cli.output().includes('nope'), 'no password in the log');
  assert.equal((await health(cli.port)).body.status, 'ok');
});

test('JWT: a valid Bearer token opens (HS256 secret, RS256 key file, ES256 JWKS URL), sub is the identity; expired, wrong audience or issuer, wrong key, no exp: 401', async (t) => {
  const secret = 'a-shared-secret-of-some-length';
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const keyFile = join(dir, 'rsa.pem');
  await writeFile(keyFile, await exportSPKI(rsa.publicKey));
  const jwks = { keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256' }] };
  const jwksServer = http.createServer((_req, res) => res.end(JSON.stringify(jwks)));
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  t.after(() => jwksServer.close());
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;

  const claims = (extra: Record<string, unknown> = {}) => new SignJWT({ ...extra }).setSubject('user-17').setAudience('wsgate').setIssuer('https://idp.example').setIssuedAt();
  const hs = (c: SignJWT, exp: string | number = '5m') => c.setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new TextEncoder().encode(secret));
  const common = { audience: 'wsgate', issuer: 'https://idp.example' };
  const raw = {
    authFailures: { max: 100 }, // this test fails on purpose more often than the default lockout allows
    routes: [
      { path: '/hs', handler: 'echo', auth: [{ type: 'jwt', secret, ...common }] },
      { path: '/rs', handler: 'echo', auth: [{ type: 'jwt', keyFile, ...common }] },
      { path: '/es', handler: 'echo', auth: [{ type: 'jwt', jwks: jwksUrl, ...common, cookie: 'session' }] },
    ],
  };
  await withGateway(raw, async (gw) => {
    const at = async (path: string, token: string, how: 'bearer' | 'cookie' = 'bearer') => {
      const a = await answerOf(gw.url(path), { headers: how === 'bearer' ? { Authorization: `Bearer ${token}` } : { Cookie: `other=1; session=${token}` } });
      return a.status === 401 ? `401 ${a.headers['www-authenticate']}` : a.status;
    };
    const invalid = '401 Bearer realm="wsgate", error="invalid_token"';
    assert.equal(await at('/hs', await hs(claims())), 101);
    assert.equal(await at('/rs', await claims().setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign(rsa.privateKey)), 101);
    const es = await claims().setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('5m').sign(ec.privateKey);
    assert.equal(await at('/es', es), 101);
    assert.equal(await at('/es', es, 'cookie'), 101, 'the cookie carries it too');

    assert.equal(await at('/hs', await hs(claims(), Math.floor(Date.now() / 1000) - 60)), invalid, 'expired');
    assert.equal(await at('/hs', await hs(claims().setAudience('another-service'))), invalid, 'wrong audience');
    assert.equal(await at('/hs', await hs(claims().setIssuer('https://evil.example'))), invalid, 'wrong issuer');
    assert.equal(await at('/hs', await claims().setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))), invalid, 'no exp');
    assert.equal(await at('/hs', await claims().setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('another-secret-entirely'))), invalid, 'wrong secret');
    assert.equal(await at('/es', await claims().setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('5m').sign(other.privateKey)), invalid, 'wrong key');
    assert.equal(await at('/rs', await hs(claims())), invalid, 'an HMAC token against an RSA key');
    assert.equal(await at('/hs', 'not-a-jwt'), invalid);
    assert.equal((await answerOf(gw.url('/hs'))).headers['www-authenticate'], 'Bearer realm="wsgate"', 'no token: the bare challenge');

    const ws = await connect(gw.url('/hs'), undefined, { headers: { Authorization: `Bearer ${await hs(claims())}` } });
    assert.deepEqual((await sessionList(gw.port))[0]!.identity, { sub: 'user-17' });
    ws.close();
    await closed(ws);
  });
});

/**
 * A TLS listener that asks for client certificates and hands each verified-or-not
 * connection to the gateway (Gateway.adopt, as the --workers primary does): the
 * gateway reads the certificate from a real TLSSocket.
 */
async function tlsFront(gw: RunningGateway): Promise<{ url(path: string): string; close(): void }> {
  const server = tls.createServer({ key: pki.server.key, cert: pki.server.cert, ca: pki.ca, requestCert: true, rejectUnauthorized: false }, (socket) => gw.gateway.adopt(0, socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: (path) => `wss://127.0.0.1:${port}${path}`, close: () => server.close() };
}

test('client certificates (ClientCertCNAuth) over a real TLS connection: an allowed CN from the CA passes; another CN, an untrusted one or none: 403', async () => {
  await withGateway({ routes: [{ path: '/e', handler: 'echo', auth: [{ type: 'cert', subjects: ['alice', 'bob'] }] }] }, async (gw) => {
    const front = await tlsFront(gw);
    try {
      const at = (cert?: { key: Buffer; cert: Buffer }) => answerOf(front.url('/e'), { ca: pki.ca, ...(cert ?? {}) }).then((a) => a.status);
      assert.equal(await at(pki.client('alice')), 101);
      assert.equal(await at(pki.client('mallory')), 403, 'a CN not on the list');
      assert.equal(await at(pki.stranger('alice')), 403, 'the right CN, but not from the CA');
      assert.equal(await at(), 403, 'no certificate');
      assert.equal((await answerOf(gw.url('/e'))).status, 403, 'not TLS at all');
      const ws = await connect(front.url('/e'), undefined, { ca: pki.ca, ...pki.client('bob') });
      assert.deepEqual((await sessionList(gw.port))[0]!.identity, { cn: 'bob' });
      ws.close();
      await closed(ws);
    } finally {
      front.close();
    }
  });
});

test('the checks compose: a client certificate and Basic must both pass; the identity holds both', async () => {
  const auth = [{ type: 'basic', users: usersFile }, { type: 'cert', subjects: ['alice'] }];
  await withGateway({ routes: [{ path: '/e', handler: 'echo', auth }] }, async (gw) => {
    const front = await tlsFront(gw);
    try {
      const at = (cert: { key: Buffer; cert: Buffer } | null, headers?: Record<string, string>) => answerOf(front.url('/e'), { ca: pki.ca, ...(cert ?? {}), headers }).then((a) => a.status);
      const alice = pki.client('alice');
      assert.equal(await at(alice, basic('alice', 'alice-pw')), 101);
      assert.equal(await at(alice), 401, 'certificate without password');
      assert.equal(await at(alice, basic('alice', 'wrong')), 401);
      assert.equal(await at(pki.client('mallory'), basic('alice', 'alice-pw')), 403, 'password without an allowed certificate');
      assert.equal(await at(null, basic('bob', 'bob-pw')), 403);
      const ws = new WebSocket(front.url('/e'), { ca: pki.ca, ...alice, headers: basic('bob', 'bob-pw') });
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      assert.deepEqual((await sessionList(gw.port))[0]!.identity, { cn: 'alice', user: 'bob' });
      ws.close();
      await closed(ws);
    } finally {
      front.close();
    }
  });
});
