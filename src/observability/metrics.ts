// Prometheus metrics (--metrics-path), built on prom-client. Off by default:
// prom-client costs ~13 MB and ~50 ms per process to load, so it is imported
// only when an operator asks for metrics.
//
// Nothing here runs per message: byte and message counts are the sessions'
// own counters, summed when scraped (ended sessions were added up when they
// ended). Labels are route paths from the config and HTTP status codes,
// never anything a client chooses (no unbounded series).
//
// Under --workers every worker keeps its own registry; the primary merges
// them and its own (process-metrics.ts).
import type { Registry } from 'prom-client';
import type { SessionEnd, SessionRegistry, TrackedSession } from './session-registry.js';
import { addProcessMetrics } from './process-metrics.js';

/** What one process's metrics look like on the wire to the primary (Registry.getMetricsAsJSON()). */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Session lengths: a VNC or terminal session lasts minutes to hours. */
const DURATION_BUCKETS = [1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600];

const CLOSED_BY: ReadonlyArray<SessionEnd['by']> = ['server', 'client', 'network'];

interface Traffic {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

export class GatewayMetrics {
  readonly #registry: Registry;
  readonly #refused: (status: number) => void;

  private constructor(registry: Registry, refused: (status: number) => void) {
    this.#registry = registry;
    this.#refused = refused;
  }

  /** Metrics of this process's gateway: sessions and traffic per route, refusals, and Node's process metrics. */
  static async create(sessions: SessionRegistry, routes: readonly string[]): Promise<GatewayMetrics> {
    const prom = await import('prom-client');
    const registry = new prom.Registry();
    addProcessMetrics(prom, registry);
    const registers = [registry];
    const ended = new Map<string, Traffic>(routes.map((r) => [r, noTraffic()]));
    /** Ended sessions' counts plus the live ones', per route. */
    const traffic = (): Map<string, Traffic> => {
      const sum = new Map([...ended].map(([route, t]) => [route, { ...t }]));
      for (const s of sessions) addTraffic(sum, s);
      return sum;
    };

    new prom.Gauge({
      name: 'wsgate_sessions',
      help: 'WebSocket sessions open now',
      labelNames: ['route'],
      registers,
      collect() {
        const open = new Map(routes.map((r) => [r, 0]));
        for (const s of sessions) open.set(s.meta.route, (open.get(s.meta.route) ?? 0) + 1);
        for (const [route, n] of open) this.set({ route }, n);
      },
    });
    const opened = new prom.Counter({ name: 'wsgate_sessions_opened_total', help: 'WebSocket sessions opened (101 sent)', labelNames: ['route'], registers });
    const closed = new prom.Counter({
      name: 'wsgate_sessions_closed_total',
      help: 'WebSocket sessions ended, by who started the close: server, client, or network (no close frame)',
      labelNames: ['route', 'closed_by'],
      registers,
    });
    const duration = new prom.Histogram({
      name: 'wsgate_session_duration_seconds',
      help: 'How long ended sessions lasted',
      labelNames: ['route'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    for (const [name, help, inKey, outKey] of [
      ['wsgate_bytes_total', 'Payload bytes of data messages: in = from WebSocket clients, out = to them', 'bytesIn', 'bytesOut'],
      ['wsgate_messages_total', 'Data messages: in = from WebSocket clients, out = to them', 'messagesIn', 'messagesOut'],
    ] as const) {
      new prom.Counter({
        name,
        help,
        labelNames: ['route', 'direction'],
        registers,
        collect() {
          this.reset();
          for (const [route, t] of traffic()) {
            this.inc({ route, direction: 'in' }, t[inKey]);
            this.inc({ route, direction: 'out' }, t[outKey]);
          }
        },
      });
    }
    const refused = new prom.Counter({
      name: 'wsgate_handshakes_refused_total',
      help: 'WebSocket upgrade requests answered with an HTTP error instead of 101, by status',
      labelNames: ['status'],
      registers,
    });

    // Every route's series exist from the start, so a rate() over the first session is right.
    for (const route of routes) {
      opened.inc({ route }, 0);
      for (const by of CLOSED_BY) closed.inc({ route, closed_by: by }, 0);
      duration.zero({ route });
    }
    sessions.on('added', (s: TrackedSession) => opened.inc({ route: s.meta.route }));
    sessions.on('ended', (s: TrackedSession, info: SessionEnd) => {
      closed.inc({ route: s.meta.route, closed_by: info.by });
      duration.observe({ route: s.meta.route }, (Date.now() - s.startedAt) / 1000);
      addTraffic(ended, s);
    });
    return new GatewayMetrics(registry, (status) => refused.inc({ status: String(status) }));
  }

  /** Counts an upgrade request refused with `status`. */
  refused(status: number): void {
    this.#refused(status);
  }

  snapshot(): Promise<MetricsSnapshot> {
    return this.#registry.getMetricsAsJSON();
  }

  /** The Content-Type of text() (and of the merged text under --workers: the same format). */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** This process's metrics in the Prometheus text format. */
  text(): Promise<string> {
    return this.#registry.metrics();
  }
}

/** The --workers primary's own metrics: its process, and the worker processes it keeps running. */
export async function primaryMetrics(workers: () => number): Promise<{ snapshot(): Promise<MetricsSnapshot>; workerReplaced(): void }> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  addProcessMetrics(prom, registry);
  new prom.Gauge({
    name: 'wsgate_workers',
    help: 'Worker processes running and ready (--workers)',
    registers: [registry],
    collect() {
      this.set(workers());
    },
  });
  const replaced = new prom.Counter({ name: 'wsgate_worker_restarts_total', help: 'Worker processes that died and were replaced', registers: [registry] });
  return { snapshot: () => registry.getMetricsAsJSON(), workerReplaced: () => replaced.inc() };
}

function noTraffic(): Traffic {
  return { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
}

function addTraffic(sum: Map<string, Traffic>, s: TrackedSession): void {
  let t = sum.get(s.meta.route);
  if (!t) sum.set(s.meta.route, (t = noTraffic()));
  t.bytesIn += s.bytesIn;
  t.bytesOut += s.bytesOut;
  t.messagesIn += s.messagesIn;
  t.messagesOut += s.messagesOut;
}
