// MetricsMerger: how the --workers primary sums its processes' metrics, and
// what it keeps of a worker that died.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricsMerger } from '../../src/observability/process-metrics.js';
import type { MetricsSnapshot } from '../../src/observability/metrics.js';

/** One process's snapshot: a counter, a gauge, a histogram and the two per-process values merged as max/min. */
async function processSnapshot(opened: number, open: number, durations: number[], maxFds: number, startTime: number): Promise<MetricsSnapshot> {
  const registers = [new Registry()];
  new Counter({ name: 'opened_total', help: 'h', registers }).inc(opened);
  new Gauge({ name: 'open', help: 'h', registers }).set(open);
  const h = new Histogram({ name: 'duration_seconds', help: 'h', buckets: [1, 10], registers });
  for (const d of durations) h.observe(d);
  new Gauge({ name: 'process_max_fds', help: 'h', registers }).set(maxFds);
  new Gauge({ name: 'process_start_time_seconds', help: 'h', registers }).set(startTime);
  return registers[0]!.getMetricsAsJSON();
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('sums counters, gauges and histograms; process_max_fds is the largest, process_start_time_seconds the earliest', async () => {
  const merger = new MetricsMerger();
  const text = await merger.merge([await processSnapshot(3, 2, [0.5], 20000, 200), await processSnapshot(4, 1, [5, 50], 20000, 100)]);
  assert.equal(value(text, 'opened_total'), 7);
  assert.equal(value(text, 'open'), 3);
  assert.equal(value(text, 'duration_seconds_count'), 3);
  assert.equal(value(text, 'duration_seconds_bucket{le="1"}'), 1);
  assert.equal(value(text, 'duration_seconds_bucket{le="10"}'), 2);
  assert.equal(value(text, 'process_max_fds'), 20000);
  assert.equal(value(text, 'process_start_time_seconds'), 100);
});

test("a dead worker's counters and histograms stay in the sums as last seen; its gauges go", async () => {
  const merger = new MetricsMerger();
  const a = await processSnapshot(10, 5, [0.5, 5], 20000, 100);
  merger.seen(1, a);
  merger.seen(2, await processSnapshot(7, 3, [], 20000, 100));
  merger.retire(1);
  // Worker 1's replacement starts from zero; worker 2 went on.
  const text = await merger.merge([await processSnapshot(0, 0, [], 20000, 300), await processSnapshot(9, 3, [50], 20000, 100)]);
  assert.equal(value(text, 'opened_total'), 19, '10 of the dead worker + 0 + 9: the sum does not fall back');
  assert.equal(value(text, 'open'), 3, 'what was open in the dead worker is gone');
  assert.equal(value(text, 'duration_seconds_count'), 3);
  assert.equal(value(text, 'process_max_fds'), 20000, 'a dead worker adds no gauge');
});

test('any number of dead workers fold into one retired snapshot, and a worker never seen leaves nothing', async () => {
  const merger = new MetricsMerger();
  for (let i = 1; i <= 5; i++) {
    merger.seen(i, await processSnapshot(2, 1, [1.5], 20000, 100));
    merger.retire(i);
  }
  merger.retire(99);
  assert.equal(value(await merger.merge([]), 'opened_total'), 10);
  assert.equal(value(await merger.merge([await processSnapshot(1, 1, [], 20000, 100)]), 'opened_total'), 11, 'folding did not count anything twice');
  assert.equal(value(await merger.merge([]), 'duration_seconds_count'), 5);
});
