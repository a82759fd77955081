// The JWT resolver: HS256/RS256/ES256 signatures, claim checks (exp, nbf,
// aud, iss), forgeries (bad signature, alg none, algorithm confusion),
// encrypted tokens (dir/A256GCM claims, RSA-OAEP-256 around a signed JWT),
// and a key file replaced while running.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CompactEncrypt, EncryptJWT, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { makeResolver, within } from './support/resolvers.js';
import { tempDir, until } from './support/index.js';
import type { TargetResolver } from '../src/proxy/resolvers/types.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const now = () => Math.floor(Date.now() / 1000);
const CLAIMS = { host: '127.0.0.1', port: 5901, user: 'bob' };

async function jwtResolver(t: TestContext, block: Record<string, unknown>): Promise<TargetResolver> {
  const resolver = await makeResolver({ type: 'jwt', ...block });
  t.after(() => resolver.close());
  return resolver;
}

type SignKey = Parameters<SignJWT['sign']>[0];

function sign(key: SignKey, alg: string, claims: JWTPayload = CLAIMS, edit?: (jwt: SignJWT) => SignJWT, kid?: string): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuedAt().setExpirationTime('5m');
  return (edit ? edit(jwt) : jwt).sign(key);
}

const hs = (claims?: JWTPayload, edit?: (jwt: SignJWT) => SignJWT) => sign(new TextEncoder().encode(SECRET), 'HS256', claims, edit);

/** A key pair, its public half written to `file` as PEM. */
async function keyPairFile(alg: string, file: string) {
  const pair = await generateKeyPair(alg, { extractable: true });
  await writeFile(file, await exportSPKI(pair.publicKey));
  return pair;
}

test('jwt: HS256, RS256, ES256, JWKS and websockify key-file tokens give host, port and every claim as a parameter', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t, 'jwt');
  const hsr = await jwtResolver(t, { secret: SECRET });
  const token = await hs({ ...CLAIMS, roles: ['a', 'b'] });
  const hit = await hsr.resolve(token, within());
  assert.equal(hit?.host, '127.0.0.1');
  assert.equal(hit?.port, 5901);
  assert.equal(hit?.params.user, 'bob');
  assert.equal(hit?.params.roles, '["a","b"]');
  assert.match(hit?.params.exp ?? '', /^\d+$/);
  assert.equal(hsr.kind, 'jwt');

  for (const alg of ['RS256', 'ES256']) {
    const file = path.join(dir, `${alg}.pem`);
    const pair = await keyPairFile(alg, file);
    const r = await jwtResolver(t, { publicKey: file });
    assert.equal((await r.resolve(await sign(pair.privateKey, alg), within()))?.port, 5901, alg);
    assert.equal(await r.resolve(token, within()), null, `${alg}: an HS256 token is refused (algorithm confusion)`);
  }

  // websockify's JWTTokenApi key file: a PEM, or a base64url-encoded secret.
  const keyFile = path.join(dir, 'websockify.key');
  await writeFile(keyFile, `${Buffer.from(SECRET).toString('base64url')}\n`);
  assert.equal((await (await jwtResolver(t, { keyFile })).resolve(token, within()))?.port, 5901);
  const pemPair = await keyPairFile('RS256', keyFile);
  assert.equal((await (await jwtResolver(t, { keyFile })).resolve(await sign(pemPair.privateKey, 'RS256'), within()))?.port, 5901);

  const jwksFile = path.join(dir, 'jwks.json');
  const [k1, k2] = [await generateKeyPair('ES256', { extractable: true }), await generateKeyPair('RS256', { extractable: true })];
  await writeFile(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(k1.publicKey)), kid: 'k1' }, { ...(await exportJWK(k2.publicKey)), kid: 'k2' }] }));
  const jr = await jwtResolver(t, { jwks: jwksFile });
  assert.equal((await jr.resolve(await sign(k2.privateKey, 'RS256', CLAIMS, undefined, 'k2'), within()))?.port, 5901);
  assert.equal((await jr.resolve(await sign(k1.privateKey, 'ES256', CLAIMS, undefined, 'k1'), within()))?.port, 5901);
  assert.equal(await jr.resolve(await sign(k1.privateKey, 'ES256', CLAIMS, undefined, 'k2'), within()), null, 'wrong kid');
});

test('jwt: expired → refused as expired; not yet valid, wrong audience, wrong issuer, no host → null', { timeout: 10_000 }, async (t) => {
  const r = await jwtResolver(t, { secret: SECRET, audience: 'wsgate', issuer: 'portal', clockTolerance: 5 });
  const good = (jwt: SignJWT) => jwt.setAudience('wsgate').setIssuer('portal');
  assert.equal((await r.resolve(await hs(CLAIMS, good), within()))?.params?.aud, 'wsgate');
  assert.equal((await r.resolve(await hs(CLAIMS, (j) => good(j).setExpirationTime(now() - 2)), within()))?.port, 5901, 'within clockTolerance');
  assert.deepEqual(await r.resolve(await hs(CLAIMS, (j) => good(j).setExpirationTime(now() - 60)), within()), { refused: 'expired' });
  assert.equal(await r.resolve(await hs(CLAIMS, (j) => good(j).setNotBefore(now() + 60)), within()), null, 'not yet valid');
  assert.equal(await r.resolve(await hs(CLAIMS, (j) => j.setAudience('other').setIssuer('portal')), within()), null, 'wrong audience');
  assert.equal(await r.resolve(await hs(CLAIMS, (j) => j.setAudience('wsgate').setIssuer('evil')), within()), null, 'wrong issuer');
  assert.equal(await r.resolve(await hs(CLAIMS, (j) => j.setIssuer('portal')), within()), null, 'no audience');
  assert.equal(await r.resolve(await hs({ host: '127.0.0.1' }, good), within()), null, 'no port claim');
  assert.equal(await r.resolve(await hs({ host: '127.0.0.1', port: 70000 }, good), within()), null, 'bad port claim');
});

test('jwt: forgeries are refused: bad signature, tampered claims, alg none, garbage', { timeout: 10_000 }, async (t) => {
  const r = await jwtResolver(t, { secret: SECRET });
  const other = await sign(new TextEncoder().encode('some-other-secret-also-long-enough!!'), 'HS256');
  assert.equal(await r.resolve(other, within()), null, 'signed with another secret');
  const [header, , signature] = (await hs()).split('.');
  const tampered = Buffer.from(JSON.stringify({ ...CLAIMS, host: '10.6.6.6', exp: now() + 300 })).toString('base64url');
  assert.equal(await r.resolve(`${header}.${tampered}.${signature}`, within()), null, 'claims changed after signing');
  const none = new UnsecuredJWT(CLAIMS).setExpirationTime('5m').encode();
  assert.equal(await r.resolve(none, within()), null, 'alg none');
  const noneHeader = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
  assert.equal(await r.resolve(`${noneHeader}.${none.split('.')[1]}.${signature}`, within()), null, 'alg none with a signature');
  for (const junk of ['', 'abc', 'a.b.c', 'a.b.c.d.e', '....']) assert.equal(await r.resolve(junk, within()), null, JSON.stringify(junk));
  // A secret accepts the HMAC family by default; `algorithms` narrows it.
  const hs512 = await sign(new TextEncoder().encode(SECRET), 'HS512');
  assert.equal((await r.resolve(hs512, within()))?.port, 5901);
  const only256 = await jwtResolver(t, { secret: SECRET, algorithms: ['HS256'] });
  assert.equal(await only256.resolve(hs512, within()), null);
  assert.equal((await only256.resolve(await hs(), within()))?.port, 5901);
  await assert.rejects(makeResolver({ type: 'jwt', secret: SECRET, algorithms: ['none'] }), /algorithms/);
});

test('jwt: encrypted tokens: dir/A256GCM claims, RSA-OAEP-256 around a signed JWT', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t, 'jwt');
  const aesKey = new Uint8Array(32).map((_, i) => i * 7 + 1);
  const aesFile = path.join(dir, 'jwe.key');
  await writeFile(aesFile, `${Buffer.from(aesKey).toString('base64url')}\n`);
  const r = await jwtResolver(t, { decryptionKey: aesFile });
  const jwe = await new EncryptJWT({ ...CLAIMS }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setExpirationTime('5m').encrypt(aesKey);
  assert.equal((await r.resolve(jwe, within()))?.params?.user, 'bob');
  const expired = await new EncryptJWT({ ...CLAIMS }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setExpirationTime(now() - 60).encrypt(aesKey);
  assert.deepEqual(await r.resolve(expired, within()), { refused: 'expired' }, 'claims inside a JWE are checked too');
  const wrongKey = await new EncryptJWT({ ...CLAIMS }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(new Uint8Array(32));
  assert.equal(await r.resolve(wrongKey, within()), null, 'encrypted with another key');
  assert.equal(await r.resolve(await hs(), within()), null, 'signed token but no signing key configured');

  const rsa = await generateKeyPair('RSA-OAEP-256', { extractable: true });
  const rsaFile = path.join(dir, 'rsa.pem');
  await writeFile(rsaFile, await exportPKCS8(rsa.privateKey));
  const nested = await jwtResolver(t, { secret: SECRET, decryptionKey: rsaFile });
  const wrap = async (plaintext: string, cty?: string) =>
    new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', ...(cty ? { cty } : {}) }).encrypt(rsa.publicKey);
  assert.equal((await nested.resolve(await wrap(await hs(), 'JWT'), within()))?.params?.user, 'bob');
  assert.equal((await nested.resolve(await hs(), within()))?.port, 5901, 'plain signed tokens still work');
  const forged = await sign(new TextEncoder().encode('not-the-secret-but-long-enough-anyway'), 'HS256');
  assert.equal(await nested.resolve(await wrap(forged, 'JWT'), within()), null, 'the inner signature is checked');
  const claimsOnly = JSON.stringify({ ...CLAIMS, exp: now() + 300 });
  assert.equal(await nested.resolve(await wrap(claimsOnly), within()), null, 'public-key JWE without a signature inside');
  await assert.rejects(makeResolver({ type: 'jwt', decryptionKey: rsaFile }), /signed JWT inside/);
});

test('jwt: a replaced public key file is used without a restart', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t, 'jwt');
  const file = path.join(dir, 'key.pem');
  const first = await keyPairFile('ES256', file);
  const r = await jwtResolver(t, { publicKey: file });
  const byFirst = await sign(first.privateKey, 'ES256');
  assert.equal((await r.resolve(byFirst, within()))?.port, 5901);
  const second = await generateKeyPair('RS256', { extractable: true });
  const bySecond = await sign(second.privateKey, 'RS256');
  assert.equal(await r.resolve(bySecond, within()), null);
  await writeFile(file, await exportSPKI(second.publicKey));
  await until(async () => (await r.resolve(bySecond, within())) !== null, { timeoutMs: 2000, everyMs: 20, what: 'the new key in use' });
  assert.equal(await r.resolve(byFirst, within()), null, 'the old key is no longer trusted');
});

test('jwt: configuration errors name the field', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t, 'jwt');
  const junk = path.join(dir, 'junk.pem');
  await writeFile(junk, 'not a key');
  await assert.rejects(makeResolver({ type: 'jwt' }), /resolver\.secret: one of secret, publicKey, jwks, keyFile or decryptionKey/);
  await assert.rejects(makeResolver({ type: 'jwt', secret: SECRET, publicKey: junk }), /resolver\.publicKey: give one of/);
  await assert.rejects(makeResolver({ type: 'jwt', publicKey: junk }), /resolver\.publicKey: .*not a PEM/);
  await assert.rejects(makeResolver({ type: 'jwt', jwks: junk }), /resolver\.jwks: .*not JSON/);
  await assert.rejects(makeResolver({ type: 'jwt', keyFile: junk }), /resolver\.keyFile: .*neither a PEM key nor/);
  await assert.rejects(makeResolver({ type: 'jwt', decryptionKey: junk }), /resolver\.decryptionKey/);
  await assert.rejects(makeResolver({ type: 'jwt', publicKey: path.join(dir, 'missing.pem') }), /ENOENT/);
});
