// What the --workers primary keeps of every worker's sessions: the slots
// under maxSessions (given back when a worker dies) and the counts /healthz
// shows (a dead worker's lifetime count stays in the total).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionSlots } from '../../src/processes/session-slots.js';
import { SessionCounts } from '../../src/processes/session-counts.js';

test('SessionSlots: the limit holds across workers; a slot given back can be taken again', () => {
  const slots = new SessionSlots(3);
  assert.deepEqual([slots.take(1), slots.take(2), slots.take(1), slots.take(2)], [true, true, true, false]);
  slots.give(2);
  assert.equal(slots.take(1), true);
  assert.equal(slots.take(2), false);
});

test('SessionSlots: a worker that dies frees every slot it held; a give-back from a worker holding none is ignored', () => {
  const slots = new SessionSlots(2);
  slots.take(1);
  slots.take(1);
  slots.give(2); // worker 2 holds none: this must not make room beyond the limit
  assert.equal(slots.take(2), false);
  slots.release(1);
  assert.deepEqual([slots.take(2), slots.take(2), slots.take(2)], [true, true, false]);
  slots.give(1); // the replacement of worker 1 holds none either
  assert.equal(slots.take(1), false);
});

test('SessionCounts: open and lifetime counts over the workers; a dead worker leaves its lifetime count, not its open one', () => {
  const counts = new SessionCounts();
  const workers = [
    { id: 1, pid: 101 },
    { id: 2, pid: 102 },
  ];
  assert.deepEqual(counts.status(workers), { sessions: 0, sessionsTotal: 0, workers: [{ id: 1, pid: 101, sessions: 0 }, { id: 2, pid: 102, sessions: 0 }] });
  counts.report(1, 3, 10);
  counts.report(2, 1, 4);
  assert.deepEqual(counts.status(workers), { sessions: 4, sessionsTotal: 14, workers: [{ id: 1, pid: 101, sessions: 3 }, { id: 2, pid: 102, sessions: 1 }] });
  assert.equal(counts.retire(1), 3, 'the sessions it had open');
  const replaced = [{ id: 2, pid: 102 }, { id: 1, pid: 201 }];
  assert.deepEqual(counts.status(replaced), { sessions: 1, sessionsTotal: 14, workers: [{ id: 2, pid: 102, sessions: 1 }, { id: 1, pid: 201, sessions: 0 }] });
  counts.report(1, 2, 2);
  assert.equal(counts.status(replaced).sessionsTotal, 16);
});
