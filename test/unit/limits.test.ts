// The counters behind the edge policy's limits (src/server/policy/limits.ts,
// auth-failures.ts, src/proxy/token-limit.ts), with the clock passed in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CountsByKey, RateLimiter } from '../../src/server/policy/limits.js';
import { AuthFailures } from '../../src/server/policy/auth-failures.js';
import { TokenSessionLimit } from '../../src/proxy/token-limit.js';

test('CountsByKey: at most max per key, given back on leave, empty afterwards', () => {
  const c = new CountsByKey(2);
  assert.equal(c.take('a'), true);
  assert.equal(c.take('a'), true);
  assert.equal(c.take('a'), false);
  assert.equal(c.take('b'), true);
  c.leave('a');
  assert.equal(c.take('a'), true);
  c.leave('a');
  c.leave('a');
  c.leave('b');
  assert.equal(c.size, 0);
});

test('RateLimiter: a burst at once, then one per 1/rate seconds; Retry-After is the wait for the next token', () => {
  const r = new RateLimiter(2, 3); // 2 a second, 3 at once
  const t = 1_000_000;
  assert.deepEqual([r.take('x', t), r.take('x', t), r.take('x', t)], [0, 0, 0]);
  assert.equal(r.take('x', t), 500);
  assert.equal(r.take('y', t), 0, 'another address has its own bucket');
  assert.equal(r.take('x', t + 499), 1);
  assert.equal(r.take('x', t + 500), 0);
  assert.equal(r.take('x', t + 500), 500);
  // A long pause refills to the burst, never beyond.
  assert.deepEqual([0, 0, 0, 500], [r.take('x', t + 60_000), r.take('x', t + 60_000), r.take('x', t + 60_000), r.take('x', t + 60_000)]);
});

test('RateLimiter: the number of buckets stays bounded (full ones are forgotten first)', () => {
  const r = new RateLimiter(1, 1);
  for (let i = 0; i < 25_000; i++) r.take(`10.0.${i >> 8}.${i & 255}`, 1000 + i * 10);
  assert.ok(r.size <= 10_000, `${r.size} buckets`);
});

test('AuthFailures: the 5th failure in the window locks the address out, once; the window and the lockout expire', () => {
  const f = new AuthFailures({ max: 5, windowMs: 60_000, lockoutMs: 30_000 });
  const t = 5_000_000;
  for (let i = 0; i < 4; i++) assert.equal(f.failed('a', t + i), false);
  assert.equal(f.lockedFor('a', t + 10), 0);
  assert.equal(f.failed('a', t + 10), true, 'the fifth starts the lockout');
  assert.equal(f.lockedFor('a', t + 10), 30_000);
  assert.equal(f.failed('a', t + 20), false, 'failures during a lockout do not start another');
  assert.equal(f.lockedFor('b', t + 10), 0, 'another address is not affected');
  assert.equal(f.lockedFor('a', t + 30_010), 0);
  // Failures spread wider than the window never add up to a lockout.
  const g = new AuthFailures({ max: 3, windowMs: 1000, lockoutMs: 1000 });
  for (let i = 0; i < 10; i++) assert.equal(g.failed('c', t + i * 600), false);
});

test('TokenSessionLimit: at most max per token; the give-back is idempotent', () => {
  const l = new TokenSessionLimit(1);
  const give = l.take('tok')!;
  assert.ok(give);
  assert.equal(l.take('tok'), null);
  assert.ok(l.take('other'));
  give();
  give();
  const again = l.take('tok');
  assert.ok(again);
  assert.equal(l.take('tok'), null, 'a repeated give-back did not free a second place');
});
