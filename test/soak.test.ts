// The fault soak, short: a few hundred seeded sessions through the real CLI
// (one process, then --workers 2), each relaying random amounts both ways and
// meeting one fault or none, checked byte for byte at both ends and against
// the gateway's log. And the descriptor-exhaustion run. The full soak is
// `npm run soak` (bench/soak/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '../bench/soak/classify.js';
import type { BackendRecord } from '../bench/soak/backend.js';
import type { ClientResult } from '../bench/soak/client.js';
import type { LogLine, SessionLines } from '../bench/soak/gateway.js';
import { runExhaustion } from '../bench/soak/exhaust.js';
import { FAULTS, makePlans, type SessionPlan } from '../bench/soak/plan.js';
import { renderExhaustion, renderSoak } from '../bench/soak/report.js';
import { FD_SLACK_PER_PROCESS, runSoak, type SoakOptions } from '../bench/soak/soak.js';
import { HEADER_BYTES, PrefixCheck, slice } from '../bench/soak/streams.js';

test('soak streams: a prefix checks out; a flipped, dropped, reordered or extra byte is found at its offset', () => {
  const whole = Buffer.concat([slice(3, 'down', 0, 70_000), slice(3, 'down', 70_000, 30_000)]);
  const feed = (parts: Buffer[]) => {
    const c = new PrefixCheck(3, 'down', 100_000);
    for (const p of parts) c.add(p);
    return c;
  };
  assert.ok(feed([whole.subarray(0, 12_345)]).correct);
  assert.ok(!feed([whole.subarray(0, 12_345)]).complete);
  assert.ok(feed([whole.subarray(0, 1), whole.subarray(1)]).complete);
  const flipped = Buffer.from(whole);
  flipped[54_321]! ^= 1;
  assert.equal(feed([flipped]).firstBad, 54_321);
  assert.equal(feed([whole.subarray(0, 1000), whole.subarray(1001)]).firstBad, 1000); // one byte dropped
  assert.notEqual(feed([whole.subarray(5000, 10_000), whole.subarray(0, 5000)]).firstBad, undefined); // reordered
  assert.equal(feed([whole, Buffer.from([0])]).firstBad, 100_000); // more than was sent
  assert.ok(!slice(3, 'down', 0, 64).equals(slice(4, 'down', 0, 64)) && !slice(3, 'down', 0, 64).equals(slice(3, 'up', 0, 64)));
});

test('soak plans: the same seed gives the same sessions; most have no fault, every fault occurs', () => {
  const o = { sessions: 300, seed: 42, maxBytes: 512 * 1024, faultShare: 0.4, socketBuffers: 4 << 20 };
  assert.deepEqual(makePlans(o), makePlans(o));
  const plans = makePlans(o);
  assert.ok(plans.filter((p) => p.fault === 'none').length > 150);
  for (const f of FAULTS) assert.ok(plans.some((p) => p.fault === f), f);
  for (const p of plans.filter((p) => p.fault === 'client-stall')) assert.ok(p.down >= o.socketBuffers, 'a stalled client gets more than the socket buffers hold');
});

test('soak classification: intact, ended with a reason, and the ways a session counts as broken', () => {
  const plan = (fault: SessionPlan['fault']): SessionPlan => ({ id: 1, fault, up: 10, down: 20, faultAt: 5, seed: 1 });
  const client = (down: number, closeCode: number): ClientResult => {
    const c = new PrefixCheck(1, 'down', 20);
    c.add(slice(1, 'down', 0, down));
    return { opened: true, httpStatus: undefined, closeCode, down: c, upSent: 10, timedOut: false, error: undefined, closingAt: 0, openedAt: 0, startedAt: 0, endedAt: 0 };
  };
  const backend = (up: number): BackendRecord => {
    const c = new PrefixCheck(1, 'up', 10);
    c.add(slice(1, 'up', 0, up));
    return { up: c, downSent: 20, eof: true, closed: true, error: undefined, lastDataAt: 0, closedAt: 0, acceptedAt: 0, identifiedAt: 0 };
  };
  const logged = (l: Partial<LogLine>): SessionLines => ({ open: [{ msg: 'session open', level: 30 }], closed: [{ msg: 'session closed', level: 30, ...l }], refused: [] });
  const clean = logged({ code: 1000, closedBy: 'client', reason: '', bytesIn: HEADER_BYTES + 10, bytesOut: 20 });

  assert.deepEqual(classify(plan('none'), client(20, 1000), backend(10), clean), { kind: 'intact' });
  assert.match(JSON.stringify(classify(plan('none'), client(19, 1000), backend(10), clean)), /broken.*19 of 20/);
  assert.match(JSON.stringify(classify(plan('none'), client(20, 1000), backend(10), undefined)), /broken.*0 \\"session closed\\" lines/);
  const reset = logged({ code: 1011, closedBy: 'server', reason: 'backend error: ECONNRESET' });
  assert.equal(classify(plan('backend-reset'), client(5, 1011), backend(3), reset).kind, 'ended');
  assert.match(JSON.stringify(classify(plan('backend-reset'), client(5, 1011), backend(3), logged({ code: 1011, closedBy: 'server', reason: '' }))), /gives no reason/);
  assert.match(JSON.stringify(classify(plan('client-stall'), client(12, 1006), backend(10), logged({ code: 1000, closedBy: 'server', reason: 'backend closed the connection' }))), /close 1006, expected 1000/);
  const corrupt = client(5, 1011);
  corrupt.down.add(Buffer.from([slice(1, 'down', 5, 1)[0]! ^ 0xff]));
  assert.match(JSON.stringify(classify(plan('backend-reset'), corrupt, backend(3), reset)), /byte 5 wrong/);
  const refused: ClientResult = { ...client(0, 0), opened: false, httpStatus: 502, closeCode: undefined };
  const refusedLine: SessionLines = { open: [], closed: [], refused: [{ msg: 'handshake refused', level: 30, status: 502, reason: 'cannot connect' }] };
  assert.deepEqual(classify(plan('backend-refused'), refused, undefined, refusedLine), { kind: 'ended', how: 'HTTP 502: cannot connect' });
  assert.equal(classify(plan('backend-refused'), refused, undefined, undefined).kind, 'broken');
});

const SHORT: Omit<SoakOptions, 'label'> = {
  sessions: 300,
  concurrency: 150,
  seed: 20_240_614,
  maxBytes: 512 * 1024,
  faultShare: 0.4,
  closeTimeoutS: 1,
  connectTimeoutS: 1,
  sessionTimeoutMs: 20_000,
};

for (const workers of [undefined, 2]) {
  const label = workers ? `--workers ${workers}` : 'one process';
  test(`fault soak (${label}): 300 sessions, 150 at once, none broken; every faulted one ends with a legal code, a logged reason and correct prefixes; /healthz answers and descriptors come back`, { timeout: 60_000 }, async (t) => {
    const r = await runSoak({ ...SHORT, label, workers });
    for (const line of renderSoak(r).split('\n')) t.diagnostic(line);
    const broken = r.broken.slice(0, 8).map((b) => `session ${b.id} (${b.fault}, up ${b.up}, down ${b.down}): ${b.why}`);
    assert.deepEqual(broken, [], `${r.broken.length} broken session(s)`);
    assert.equal(r.intact + r.ended, r.sessions);
    assert.equal(r.intact, r.byFault.none.sessions, 'every unfaulted session intact');
    for (const f of FAULTS) assert.ok(r.byFault[f].sessions > 0, `the plan includes ${f}`);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.gatewayErrors, []);
    assert.ok(typeof r.health !== 'string', `/healthz afterwards: ${r.health}`);
    assert.equal(r.health.status, 200);
    assert.equal(r.health.body?.sessions, 0);
    assert.ok(r.fds.final <= r.fds.start + FD_SLACK_PER_PROCESS * r.processes, `gateway fds ${r.fds.start} at the start, ${r.fds.final} at the end`);
  });
}

test('descriptor exhaustion: with silent connections filling the gateway\'s 1024 descriptors, an established session relays byte-exact and /healthz answers within 35 s', { timeout: 60_000 }, async (t) => {
  const r = await runExhaustion({ nofile: 1024, silent: 1100, holdS: 35, stopWhenHealthy: true });
  for (const line of renderExhaustion(r).split('\n')) t.diagnostic(line);
  assert.ok(r.fdsFilled >= 1000, `the silent connections took the gateway to ${r.fdsFilled} of 1024 descriptors`);
  assert.equal(r.relay.problem, undefined);
  assert.ok(r.relay.bytes > 0);
  assert.ok(r.healthyAfterS !== undefined, `/healthz while the descriptors are taken: ${r.healthWhileFull}`);
  assert.equal(r.healthAfter, 'ok', '/healthz once the silent connections are gone');
});
