// Event-loop health for /healthz?loop=1: how busy the loop was (utilization)
// and how late it ran timers (delay percentiles), since the previous such
// request. The delay sampler is a timer that wakes the loop every 20 ms, so
// it starts only when first asked for: an idle gateway costs no CPU.
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

export interface LoopStats {
  /** Fraction of wall time the loop was busy (0..1). */
  utilization: number;
  delayMs: { p50: number; p99: number; max: number };
  /** Milliseconds the figures cover. */
  windowMs: number;
}

const RESOLUTION_MS = 20;
/** Nanoseconds of timer delay, less the sampler's own period, in ms to two places. */
const lagMs = (ns: number): number => Math.max(0, Math.round(ns / 1e4 - RESOLUTION_MS * 100) / 100);

export class LoopMonitor {
  #histogram: IntervalHistogram | null = null;
  #elu: EventLoopUtilization = performance.eventLoopUtilization();
  #since = performance.now();

  /** The figures since the previous call (or since the process started, for utilization). */
  take(): LoopStats {
    if (!this.#histogram) {
      this.#histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.#histogram.enable();
    }
    const h = this.#histogram;
    const now = performance.eventLoopUtilization();
    const stats: LoopStats = {
      utilization: Math.round(performance.eventLoopUtilization(now, this.#elu).utilization * 1000) / 1000,
      delayMs: {
        p50: lagMs(h.percentile(50)),
        p99: lagMs(h.percentile(99)),
        max: lagMs(h.max),
      },
      windowMs: Math.round(performance.now() - this.#since),
    };
    if (h.count === 0) stats.delayMs = { p50: 0, p99: 0, max: 0 };
    h.reset();
    this.#elu = now;
    this.#since = performance.now();
    return stats;
  }

  stop(): void {
    this.#histogram?.disable();
  }
}
