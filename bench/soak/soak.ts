// One fault soak: the real CLI in front of the soak backend (its own process; plus a dead and a
// hanging target), N sessions with seeded sizes and faults, run with bounded
// concurrency; then every session is classified and the gateway's memory,
// descriptors and /healthz are read once it is idle again.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BackendProcess } from './backend-process.js';
import { loopbackBufferBytes } from './calibrate.js';
import { classify, type Verdict } from './classify.js';
import { runSession, type ClientResult } from './client.js';
import { deadPort, hangingTarget } from './dead-targets.js';
import { SoakGateway, type Health, type LogLine } from './gateway.js';
import { clientAddress, FAULTS, isRefusal, makePlans, type Fault } from './plan.js';
import { whereFrom } from './streams.js';

export interface SoakOptions {
  label: string;
  sessions: number;
  concurrency: number;
  seed: number;
  /** Largest stream either way. */
  maxBytes: number;
  /** Share of sessions with a fault. */
  faultShare: number;
  /** Only these faults (all by default). */
  faults?: readonly Fault[];
  /** --workers N (undefined: one process). */
  workers?: number;
  closeTimeoutS: number;
  connectTimeoutS: number;
  sessionTimeoutMs: number;
  progress?: (msg: string) => void;
}

export interface FaultCounts {
  sessions: number;
  intact: number;
  ended: number;
  broken: number;
}

export interface SoakReport {
  label: string;
  seed: number;
  sessions: number;
  concurrency: number;
  durationS: number;
  intact: number;
  ended: number;
  broken: Array<{ id: number; fault: Fault; up: number; down: number; why: string }>;
  byFault: Record<Fault, FaultCounts>;
  /** How faulted sessions ended ("1011 server: backend error: ECONNRESET"), with counts. */
  endings: Map<string, number>;
  /** Bytes relayed (both directions, counted at the receiving ends). */
  bytes: number;
  rssKiB: { start: number; peak: number; final: number };
  fds: { start: number; peak: number; final: number };
  processes: number;
  /** The soak's own event-loop delay while sessions ran: seconds here mean the harness, not the gateway, was slow. */
  harnessLoopDelayMs: { p99: number; max: number };
  /** /healthz after the run, or why it did not answer. */
  health: Health | string;
  /** Findings outside any one session: log lines without a session, the backend's complaints, error lines. */
  problems: string[];
  gatewayErrors: LogLine[];
}

/** Descriptors the gateway may hold beyond its idle count once every session has ended (per process). */
export const FD_SLACK_PER_PROCESS = 8;

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const say = o.progress ?? (() => {});
  const socketBuffers = await loopbackBufferBytes();
  const plans = makePlans({ sessions: o.sessions, seed: o.seed, maxBytes: o.maxBytes, faultShare: o.faultShare, socketBuffers, faults: o.faults });
  const backend = await BackendProcess.start(plans);
  const hang = await hangingTarget();
  let gw: SoakGateway | undefined;
  try {
    const proxy = (target: number) => ({ handler: 'tcp-proxy', target: `127.0.0.1:${target}`, connectTimeout: o.connectTimeoutS });
    gw = await SoakGateway.start({
      workers: o.workers,
      config: {
        listen: '127.0.0.1:0',
        logLevel: 'info',
        ...(o.workers ? { workers: o.workers } : {}),
        defaults: { closeTimeout: o.closeTimeoutS },
        routes: [
          { path: '/dead', ...proxy(await deadPort()) },
          { path: '/hang', ...proxy(hang.port) },
          { path: '*', ...proxy(backend.port) },
        ],
      },
    });
    const g = gw;
    const processes = g.pids().length;
    const start = { rss: g.rssKiB(), fds: g.fds() };
    const peak = { ...start };
    const sampler = setInterval(() => {
      peak.rss = Math.max(peak.rss, g.rssKiB());
      peak.fds = Math.max(peak.fds, g.fds());
    }, 250);
    say(`${o.label}: ${o.sessions} sessions, ${o.concurrency} at once, seed ${o.seed}; gateway pid ${g.pid} (${processes} process${processes > 1 ? 'es' : ''}) on port ${g.port}`);

    const loop = monitorEventLoopDelay({ resolution: 20 });
    loop.enable();
    const t0 = Date.now();
    const results: ClientResult[] = new Array(plans.length);
    let done = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < plans.length) {
        const plan = plans[next++]!;
        results[plan.id] = await runSession(g.url, plan, { closeTimeoutMs: o.closeTimeoutS * 1000, sessionTimeoutMs: o.sessionTimeoutMs });
        if (++done % 1000 === 0) say(`${o.label}: ${done}/${plans.length} sessions done`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, plans.length) }, worker));
    const durationS = (Date.now() - t0) / 1000;
    loop.disable();

    // Let the gateway finish: no session left, every backend connection closed, every line logged.
    const opened = results.filter((r) => r.opened).length;
    const problems: string[] = [];
    await settle(async () => (await g.health().catch(() => undefined))?.body?.sessions === 0, 15_000, () => problems.push('the gateway still counts open sessions 15 s after the last one ended'));
    let backendOpen = 0;
    await settle(async () => (backendOpen = await backend.open()) === 0, 15_000, () => problems.push(`${backendOpen} backend connection(s) still open 15 s after the run`));
    await settle(async () => g.lineCounts().closed >= opened, 5000, () => problems.push(`${g.lineCounts().closed} "session closed" lines for ${opened} opened sessions`));
    clearInterval(sampler);
    const backendSide = await backend.report();

    const byFault = Object.fromEntries(FAULTS.map((f) => [f, { sessions: 0, intact: 0, ended: 0, broken: 0 }])) as Record<Fault, FaultCounts>;
    const report: SoakReport = {
      label: o.label,
      seed: o.seed,
      sessions: o.sessions,
      concurrency: o.concurrency,
      durationS,
      intact: 0,
      ended: 0,
      broken: [],
      byFault,
      endings: new Map(),
      bytes: 0,
      rssKiB: { start: start.rss, peak: peak.rss, final: 0 },
      fds: { start: start.fds, peak: peak.fds, final: 0 },
      processes,
      harnessLoopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      health: '',
      problems: [...problems, ...backendSide.problems],
      gatewayErrors: g.errors,
    };
    const known = new Set<string>();
    const ids = plans.map((p) => p.id);
    for (const plan of plans) {
      const client = results[plan.id]!;
      const rec = backendSide.records.get(plan.id);
      known.add(clientAddress(plan.id));
      report.bytes += client.down.bytes + (rec?.up.bytes ?? 0);
      const v: Verdict = classify(plan, client, rec, g.byRemote.get(clientAddress(plan.id)));
      const counts = byFault[plan.fault];
      counts.sessions++;
      if (v.kind === 'intact') {
        report.intact++;
        counts.intact++;
      } else if (v.kind === 'ended') {
        report.ended++;
        counts.ended++;
        const how = `${isRefusal(plan.fault) ? '' : `${plan.fault} -> `}${v.how}`;
        report.endings.set(how, (report.endings.get(how) ?? 0) + 1);
      } else {
        counts.broken++;
        const sample = client.down.badSample ?? rec?.up.badSample;
        const origin = sample ? whereFrom(sample, ids, (id, dir) => plans[id]![dir]) : [];
        const why = origin.length ? `${v.why}; the wrong bytes are ${origin.join(' or ')}` : v.why;
        report.broken.push({ id: plan.id, fault: plan.fault, up: plan.up, down: plan.down, why });
      }
    }
    for (const remote of g.byRemote.keys()) if (!known.has(remote)) report.problems.push(`log lines for an unknown client ${remote}`);

    // Idle again: memory and descriptors (given a moment to come back), and a health answer.
    await settle(async () => g.fds() <= start.fds + FD_SLACK_PER_PROCESS * processes, 5000, () => {});
    report.fds.final = g.fds();
    report.rssKiB.final = g.rssKiB();
    report.health = await g.health().catch((e: Error) => e.message);
    return report;
  } finally {
    await gw?.stop();
    hang.close();
    await backend.close();
  }
}

/** Polls `ok` every 50 ms; calls `late` if it is still false after `ms`. */
async function settle(ok: () => Promise<boolean>, ms: number, late: () => void): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) return late();
    await new Promise((r) => setTimeout(r, 50));
  }
}
