// The /metrics answer under --workers: every worker's snapshot and the
// primary's own (its process, wsgate_workers, worker restarts) merged into
// one Prometheus text. Requests that come while a merge is under way share
// it, so a client scraping in a loop costs one gathering at a time.
import type { Logger } from '../observability/logger.js';
import type { MetricsSnapshot, primaryMetrics } from '../observability/metrics.js';
import { MetricsMerger } from '../observability/process-metrics.js';
import type { Gatherings } from './gatherings.js';

export type PrimaryMetrics = Awaited<ReturnType<typeof primaryMetrics>>;

export class MergedMetrics {
  readonly #gatherings: Gatherings;
  readonly #own: PrimaryMetrics | null;
  readonly #log: Logger;
  readonly #merger = new MetricsMerger();
  /** The merge in progress, if any. */
  #merging: Promise<string | null> | null = null;

  constructor(gatherings: Gatherings, own: PrimaryMetrics | null, log: Logger) {
    this.#gatherings = gatherings;
    this.#own = own;
    this.#log = log;
  }

  /** The merged text; null if the merge failed (logged). */
  text(): Promise<string | null> {
    this.#merging ??= this.#gatherAndMerge().finally(() => (this.#merging = null));
    return this.#merging;
  }

  /** `worker` has exited: its counters, as last seen, stay in the sums. */
  retire(worker: number): void {
    this.#merger.retire(worker);
  }

  #gatherAndMerge(): Promise<string | null> {
    return this.#gatherings
      .gather<MetricsSnapshot>('metrics', (worker, part) => this.#merger.seen(worker, part))
      .then(async (parts) => this.#merger.merge([...(this.#own ? [await this.#own.snapshot()] : []), ...parts]))
      .catch((err: unknown) => {
        this.#log.error({ err }, 'merging metrics failed');
        return null;
      });
  }
}
