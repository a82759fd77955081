// How the --workers supervisor counts worker deaths for its crash limit:
// only those within the window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashWindow } from '../../src/processes/supervisor.js';

test('CrashWindow: deaths within the window count; older ones drop out', () => {
  const w = new CrashWindow(60_000);
  assert.deepEqual([0, 10_000, 20_000, 60_000].map((t) => w.record(t)), [1, 2, 3, 4]);
  assert.equal(w.record(60_001), 4, 'the death at 0 is more than 60 s old');
  assert.equal(w.record(200_000), 1);
});
