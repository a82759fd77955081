// How the --workers primary gathers an answer from every worker: it ends
// when all have replied, when the last one it waits for dies, or after its
// timeout, with the parts that came; concurrent metrics requests share one
// gathering. Timers are node:test's mock timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gatherings } from '../../src/processes/gatherings.js';
import { MergedMetrics } from '../../src/processes/merged-metrics.js';
import type { PrimaryMessage } from '../../src/processes/messages.js';
import { createLogger } from '../../src/observability/logger.js';

/** Gatherings over `workers`, recording every message sent. */
function gatherings(workers: number[]) {
  const sent: Array<{ worker: number; message: PrimaryMessage }> = [];
  return { sent, g: new Gatherings(() => workers, (worker, message) => sent.push({ worker, message })) };
}

/** Lets pending promise callbacks run (setImmediate is not mocked). */
const settled = () => new Promise((resolve) => setImmediate(resolve));

const collectId = (m: PrimaryMessage): number => (m.wsgate === 'collect' ? m.id : assert.fail(`not a collect: ${m.wsgate}`));

test('asks every ready worker; ends when all have replied; null parts are left out; onPart sees who sent each', async () => {
  const { sent, g } = gatherings([1, 2, 3]);
  const seen: Array<[number, string]> = [];
  const done = g.gather<string>('sessions', (worker, part) => seen.push([worker, part]));
  assert.deepEqual(sent.map((s) => [s.worker, s.message.wsgate, s.message.wsgate === 'collect' && s.message.what]), [[1, 'collect', 'sessions'], [2, 'collect', 'sessions'], [3, 'collect', 'sessions']]);
  const id = collectId(sent[0]!.message);
  g.answer(2, id, 'two');
  g.answer(2, id, 'again'); // a second reply from the same worker is ignored
  g.answer(9, id, 'not asked');
  g.answer(3, id, null);
  g.answer(1, id, 'one');
  assert.deepEqual(await done, ['two', 'one']);
  assert.deepEqual(seen, [[2, 'two'], [1, 'one']]);
  g.answer(1, id, 'late'); // the gathering is over
});

test('with no worker ready it ends at once, empty', async () => {
  const { sent, g } = gatherings([]);
  assert.deepEqual(await g.gather('metrics'), []);
  assert.equal(sent.length, 0);
});

test('a worker that does not reply is left out after 1 s; one that dies is not waited for', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { sent, g } = gatherings([1, 2]);
  let result: unknown[] | null = null;
  void g.gather('sessions').then((parts) => (result = parts));
  g.answer(1, collectId(sent[0]!.message), 'one');
  t.mock.timers.tick(999);
  await settled();
  assert.equal(result, null);
  t.mock.timers.tick(1);
  await settled();
  assert.deepEqual(result, ['one']);

  const dying = g.gather('sessions');
  g.answer(2, collectId(sent.at(-1)!.message), 'two');
  g.forget(1);
  assert.deepEqual(await dying, ['two']);
});

test('MergedMetrics: requests during a merge share its gathering; the next request gathers again', async () => {
  const { sent, g } = gatherings([1]);
  const metrics = new MergedMetrics(g, null, createLogger('silent'));
  const first = metrics.text();
  const second = metrics.text();
  assert.equal(first, second);
  assert.equal(sent.length, 1);
  g.answer(1, collectId(sent[0]!.message), []);
  assert.equal(typeof (await first), 'string');
  const third = metrics.text();
  assert.notEqual(third, first);
  assert.equal(sent.length, 2);
  g.answer(1, collectId(sent[1]!.message), []);
  await third;
});
