// The Redis resolver against the real Redis on 127.0.0.1:6379: both value
// forms, prefix, expiry, single use across two gateways, revocation over
// pub/sub, and a Redis that is not there. Keys carry a random per-run
// prefix and are deleted afterwards.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { makeResolver, within } from './support/resolvers.js';
import { revokeToken } from '../src/proxy/resolvers/redis.js';
import { StoreError, type TargetResolver } from '../src/proxy/resolvers/types.js';

const URL = 'redis://127.0.0.1:6379';

/** A plain client for setting up keys, and a prefix of this test's own; its keys are deleted when the test ends. */
async function keyspace(t: TestContext): Promise<{ redis: Redis; prefix: string }> {
  const redis = new Redis(URL);
  const prefix = `wsgate-test:${randomUUID()}:`;
  t.after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  return { redis, prefix };
}

async function redisResolver(t: TestContext, block: Record<string, unknown>): Promise<TargetResolver> {
  const resolver = await makeResolver({ type: 'redis', ...block });
  t.after(() => resolver.close());
  return resolver;
}

test('redis: host:port and JSON values (both JSON forms), params, misses, the prefix', { timeout: 10_000 }, async (t) => {
  const { redis, prefix } = await keyspace(t);
  await redis.set(`${prefix}plain`, '127.0.0.1:5901');
  await redis.set(`${prefix}v6`, '[::1]:5902');
  await redis.set(`${prefix}json`, JSON.stringify({ host: '10.0.0.7', port: 5903, user: 'bob', note: null, tags: ['a'] }));
  await redis.set(`${prefix}websockify`, '{"host": "127.0.0.1:5904"}');
  await redis.set(`${prefix}garbage`, 'no target here');
  await redis.set(`${prefix}badjson`, '{"host": ');
  const r = await redisResolver(t, { url: URL, prefix });
  assert.equal(r.kind, 'redis');
  assert.deepEqual(await r.resolve('plain', within()), { host: '127.0.0.1', port: 5901, params: {} });
  assert.deepEqual(await r.resolve('v6', within()), { host: '::1', port: 5902, params: {} });
  assert.deepEqual(await r.resolve('json', within()), { host: '10.0.0.7', port: 5903, params: { host: '10.0.0.7', port: '5903', user: 'bob', tags: '["a"]' } });
  const ws = await r.resolve('websockify', within());
  assert.deepEqual([ws?.host, ws?.port], ['127.0.0.1', 5904]);
  assert.equal(await r.resolve('missing', within()), null);
  assert.equal(await r.resolve('garbage', within()), null);
  assert.equal(await r.resolve('badjson', within()), null);
  // The prefix is prepended verbatim: without it, the full key is the token.
  const bare = await redisResolver(t, { host: '127.0.0.1', port: 6379, db: 0 });
  assert.equal(await bare.resolve('plain', within()), null);
  assert.equal((await bare.resolve(`${prefix}plain`, within()))?.port, 5901);
});

test('redis: expiry by key TTL and by "expiresAt"', { timeout: 10_000 }, async (t) => {
  const { redis, prefix } = await keyspace(t);
  const now = Math.floor(Date.now() / 1000);
  await redis.set(`${prefix}ttl`, '127.0.0.1:1', 'PX', 150);
  await redis.set(`${prefix}past`, JSON.stringify({ host: '127.0.0.1', port: 2, expiresAt: now - 1 }));
  await redis.set(`${prefix}future`, JSON.stringify({ host: '127.0.0.1', port: 3, expiresAt: now + 3600 }));
  const r = await redisResolver(t, { url: URL, prefix });
  assert.equal((await r.resolve('ttl', within()))?.port, 1);
  assert.deepEqual(await r.resolve('past', within()), { refused: 'expired' });
  assert.equal((await r.resolve('future', within()))?.port, 3);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(await r.resolve('ttl', within()), null);
});

test('redis: a single-use token is consumed once across two gateways', { timeout: 10_000 }, async (t) => {
  const { redis, prefix } = await keyspace(t);
  await redis.set(`${prefix}once`, JSON.stringify({ host: '127.0.0.1', port: 5901, singleUse: true }));
  await redis.set(`${prefix}plain`, '127.0.0.1:5902');
  const a = await redisResolver(t, { url: URL, prefix });
  const b = await redisResolver(t, { url: URL, prefix });
  const [ta, tb] = await Promise.all([a.resolve('once', within()), b.resolve('once', within())]);
  assert.equal(ta?.singleUse, true);
  assert.equal(tb?.singleUse, true);
  const used = await Promise.all([a.consume!('once', within()), b.consume!('once', within())]);
  assert.deepEqual(used.sort(), [false, true]);
  assert.equal(await a.resolve('once', within()), null, 'gone once used');
  assert.equal(await b.consume!('once', within()), false);
  // Not single use unless the value or the config says so.
  assert.equal((await a.resolve('plain', within()))?.singleUse, undefined);
  const all = await redisResolver(t, { url: URL, prefix, singleUse: true });
  assert.equal((await all.resolve('plain', within()))?.singleUse, true);
});

test('redis: revokeToken reaches watchRevocations of another resolver', { timeout: 10_000 }, async (t) => {
  const { redis, prefix } = await keyspace(t);
  const token = `tok-${randomUUID()}`;
  await redis.set(`${prefix}${token}`, '127.0.0.1:5901');
  const watcher = await redisResolver(t, { url: URL, prefix });
  const other = await redisResolver(t, { url: URL, prefix });
  const heard: string[] = [];
  let resolveHeard: () => void;
  const gotIt = new Promise<void>((resolve) => (resolveHeard = resolve));
  await watcher.watchRevocations!((revoked) => {
    heard.push(revoked);
    if (revoked === token) resolveHeard();
  });
  assert.equal((await other.resolve(token, within()))?.port, 5901);
  assert.equal(await revokeToken(URL, prefix, token), true);
  await gotIt;
  assert.ok(heard.includes(token));
  assert.equal(await other.resolve(token, within()), null);
  assert.equal(await revokeToken(URL, prefix, token), false, 'the key is gone already');
});

test('redis: unreachable → StoreError at once, lookups never queue; startup does not wait', { timeout: 10_000 }, async (t) => {
  const r = await redisResolver(t, { url: 'redis://127.0.0.1:1' });
  for (let i = 0; i < 2; i++) {
    const started = Date.now();
    await assert.rejects(r.resolve('tok', within(5000)), (err: Error) => err instanceof StoreError && /ECONNREFUSED|not connected/.test(err.message));
    assert.ok(Date.now() - started < 1000, `lookup ${i} failed within 1 s`);
  }
  await assert.rejects(r.consume!('tok', within(5000)), StoreError);
  const started = Date.now();
  let listening = false;
  void r.watchRevocations!(() => {}).then(() => (listening = true));
  assert.ok(Date.now() - started < 100, 'the watch connects in the background: nothing waits for it');
  await assert.rejects(revokeToken('redis://127.0.0.1:1', '', 'tok'), StoreError);
  assert.equal(listening, false, 'a Redis that is down is never reported listening');
});

test('redis: an aborted lookup rejects; bad configuration is refused', { timeout: 10_000 }, async (t) => {
  const r = await redisResolver(t, { url: URL });
  const controller = new AbortController();
  controller.abort(new Error('client left'));
  await assert.rejects(r.resolve('tok', controller.signal), (err: Error) => err instanceof StoreError && /client left/.test(err.message));
  await assert.rejects(makeResolver({ type: 'redis', url: URL, port: 6379 }), /either url or host/);
  await assert.rejects(makeResolver({ type: 'redis', url: 'http://x' }), /url/);
  await assert.rejects(makeResolver({ type: 'redis', nope: 1 }), /unknown field/);
});
