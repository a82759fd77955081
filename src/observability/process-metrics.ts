// Node's process metrics (prom-client's defaults, with three changes) and
// the merge of several processes' metrics under --workers.
//
// Changes to prom-client's defaults, and why:
// - Its event-loop delay histogram (nodejs_eventloop_lag_{min,max,mean,...})
//   wakes the process every 10 ms, reports the sampling period as delay, and
//   is reset by every scrape (two scrapes close together give NaN and 2^63).
//   Instead: wsgate_event_loop_busy_seconds_total, a counter of the loop's
//   busy time (rate() of it is the utilization), with no timer at all.
//   nodejs_eventloop_lag_seconds (one setImmediate per scrape) stays.
// - process_open_fds lists /proc/self/fd on every scrape: ~20 ms with 20,000
//   sockets open, blocking the relay. It is read at most every 5 s here.
// - When merged: process_max_fds is the per-process limit (max, not sum) and
//   process_start_time_seconds the earliest start (prom-client drops it).
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { MetricsSnapshot } from './metrics.js';

type PromClient = typeof import('prom-client');

const EVENT_LOOP_HISTOGRAM = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((s) => `nodejs_eventloop_lag_${s}_seconds`);
/** prom-client's delay histogram cannot be left out; with this period (~24 days) its timer never fires. */
const NEVER_MS = 2 ** 31 - 1;
const OPEN_FDS_REFRESH_MS = 5000;
/** Metric types whose values only grow. (prom-client's typings call `type` an enum; at run time it is this string.) */
const CUMULATIVE = new Set(['counter', 'histogram']);
/** How metrics other than sums merge across processes (prom-client's aggregator names). */
const MERGE_AS: Record<string, 'max' | 'min'> = { process_max_fds: 'max', process_start_time_seconds: 'min' };

export function addProcessMetrics(prom: PromClient, registry: Registry): void {
  prom.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: NEVER_MS });
  for (const name of [...EVENT_LOOP_HISTOGRAM, 'process_open_fds']) registry.removeSingleMetric(name);
  new prom.Counter({
    name: 'wsgate_event_loop_busy_seconds_total',
    help: 'Time the event loop spent busy (rate() of it is the loop utilization, 0..1 per process)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(performance.eventLoopUtilization().active / 1000);
    },
  });
  if (process.platform !== 'linux') return;
  let fds = 0;
  let readAt = -Infinity;
  new prom.Gauge({
    name: 'process_open_fds',
    help: `Number of open file descriptors (read at most every ${OPEN_FDS_REFRESH_MS / 1000} s)`,
    registers: [registry],
    collect() {
      if (performance.now() - readAt >= OPEN_FDS_REFRESH_MS) {
        readAt = performance.now();
        try {
          fds = readdirSync('/proc/self/fd').length - 1; // less the one the listing used
        } catch {
          return;
        }
      }
      this.set(fds);
    },
  });
}

/**
 * Merges the primary's and every worker's snapshots into one Prometheus text.
 * Counters and histograms of a worker that died stay in the sums (as of its
 * last snapshot): a sum that fell back would read as a counter reset, and
 * rate()/increase() would count the survivors' whole totals as new.
 */
export class MetricsMerger {
  readonly #last = new Map<number, MetricsSnapshot>();
  #retired: MetricsSnapshot[] = [];

  /** Remembers `worker`'s latest snapshot, for when it dies. */
  seen(worker: number, snapshot: MetricsSnapshot): void {
    this.#last.set(worker, snapshot);
  }

  /** `worker` has died: its counters and histograms, as last seen, join the retired totals. */
  retire(worker: number): void {
    const last = this.#last.get(worker);
    this.#last.delete(worker);
    if (last) this.#retired.push(last.filter((m) => CUMULATIVE.has(m.type as unknown as string)));
  }

  async merge(snapshots: MetricsSnapshot[]): Promise<string> {
    const { AggregatorRegistry } = await import('prom-client');
    // Keep one retired snapshot, however many workers have died.
    if (this.#retired.length > 1) this.#retired = [await AggregatorRegistry.aggregate(this.#retired).getMetricsAsJSON()];
    const parts = [...snapshots, ...this.#retired].map((s) => s.map((m) => (MERGE_AS[m.name] ? { ...m, aggregator: MERGE_AS[m.name]! } : m)));
    return AggregatorRegistry.aggregate(parts).metrics();
  }
}
