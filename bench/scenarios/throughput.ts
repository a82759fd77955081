// Bulk transfer in each direction, every byte compared with what was sent, plus the
// "backend ends right after its last write" data-loss check.
import { sendStream, sink, type Sink } from '../backend.js';
import { receiveAll, sendAll, closeWs, type RecvResult } from '../client.js';
import { chunks } from '../data.js';
import { isWsgate, wsgateWorkers } from '../gateways.js';
import { NoLoopStatsError, loopStats, type LoopStats } from '../health.js';
import { treeCpuSeconds } from '../proc-stats.js';
import { GiB, MiB, nowNs, sleep } from '../util.js';
import { ok, openSessions, type Ctx, type Outcome, type Scenario } from './common.js';

const TCP_WRITE = 256 * 1024; // backend write size; gateways re-chunk as they like
const WS_MESSAGE = 64 * 1024;

const totalBytes = (ctx: Ctx): number => (ctx.quick ? 64 : 256) * MiB;

/** Bytes that arrived over the time until the last of them did (0 if none did). */
function mibPerSec(bytes: number, t0: bigint, ends: Array<bigint | undefined>): number {
  let last = t0;
  for (const t of ends) if (t !== undefined && t > last) last = t;
  return last > t0 ? bytes / MiB / (Number(last - t0) / 1e9) : 0;
}

/** "close codes 1000×10, 1006×6" when anything but a clean 1000 was seen. */
function closeCodes(got: RecvResult[]): string | undefined {
  const counts = new Map<number, number>();
  for (const g of got) counts.set(g.closeCode, (counts.get(g.closeCode) ?? 0) + 1);
  if (counts.size === 1 && counts.has(1000)) return undefined;
  return `close codes ${[...counts].map(([c, k]) => `${c}×${k}`).join(', ')}`;
}

const joinNotes = (...xs: Array<string | undefined>): string | undefined => xs.filter(Boolean).join('; ') || undefined;

/** Waits for every sink, giving up on the rest once none progressed for STALL_MS. */
async function untilDoneOrStalled(sinks: Sink[]): Promise<void> {
  const STALL_MS = 5000;
  const total = (): number => sinks.reduce((a, k) => a + k.bytes(), 0);
  let all = false;
  void Promise.all(sinks.map((k) => k.done)).then(() => (all = true));
  let last = total();
  let since = Date.now();
  while (!all && Date.now() - since < STALL_MS) {
    await sleep(50);
    if (total() !== last) [last, since] = [total(), Date.now()];
  }
  for (const k of sinks) k.stop();
}

/** Counts streams that arrived whole and unchanged; describes the first few that did not. */
function verify(got: Array<{ bytes: number; intact: boolean; firstBad: number | undefined }>, per: number): [number, string] {
  let good = 0;
  const bad: string[] = [];
  got.forEach((g, i) => {
    if (g.intact) good++;
    else if (bad.length < 3) bad.push(`#${i} ${g.bytes}/${per} B${g.firstBad !== undefined ? ` differs at byte ${g.firstBad}` : ''}`);
  });
  return [good, bad.join(', ')];
}

/**
 * The "after" half of wsgate's event-loop rows: the window opened by `before`.
 * With --workers each request reaches one worker only (the primary picks the
 * one with the fewest open connections, in turn among equals), so `before`
 * asks once per worker to open every worker's window, and the rows show the
 * one worker that answers `after`; acceptable: enough to see stalls.
 */
async function loopOutcomes(ctx: Ctx, before: Error | undefined, sessions: number): Promise<Record<string, Outcome>> {
  const [p99, util] = [`loop_p99_${sessions}`, `loop_util_${sessions}`];
  if (!isWsgate(ctx.gw.name)) {
    const na: Outcome = { status: 'n/a', note: 'event-loop rows are wsgate only (its /healthz?loop=1)' };
    return { [p99]: na, [util]: na };
  }
  let loop: LoopStats;
  try {
    if (before) throw before;
    loop = await loopStats(ctx.gw.url);
  } catch (e) {
    // An older baseline build may predate ?loop=1: a gap, not a failure.
    const err: Outcome =
      ctx.gw.name === 'baseline' && e instanceof NoLoopStatsError
        ? { status: 'n/a', note: "event-loop rows: the baseline build's /healthz has no ?loop=1 figures" }
        : { status: 'error', note: (e as Error).message };
    return { [p99]: err, [util]: err };
  }
  return { [p99]: { status: 'ok', value: loop.delayMs.p99 }, [util]: { status: 'ok', value: loop.utilization * 100 } };
}

export function tcpToWs(sessions: number, opts: { eventLoop?: boolean } = {}): Scenario {
  const id = `tcp2ws_${sessions}`;
  return {
    id,
    timeoutMs: 90_000,
    metrics: [
      { id, label: `TCP→WS ${sessions} session${sessions > 1 ? 's' : ''}`, unit: 'MiB/s', better: 'higher', digits: 0 },
      ...(sessions === 1
        ? [{ id: 'cpu_per_gib', label: 'CPU per GiB TCP→WS', unit: 's/GiB', better: 'lower' as const, digits: 2 }]
        : []),
      ...(opts.eventLoop
        ? [
            { id: `loop_p99_${sessions}`, label: `Event-loop delay p99 under load (${sessions} sessions TCP→WS)`, unit: 'ms', better: 'lower' as const, digits: 1 },
            { id: `loop_util_${sessions}`, label: 'Event-loop utilization', unit: '%', better: 'lower' as const, digits: 0 },
          ]
        : []),
    ],
    async run(ctx) {
      const per = Math.floor(totalBytes(ctx) / sessions);
      const ss = await openSessions(ctx, sessions);
      // Opens the event-loop window (the first ?loop=1 also starts the sampler).
      let before: Error | undefined;
      if (opts.eventLoop && isWsgate(ctx.gw.name)) {
        try {
          for (let i = 0; i < wsgateWorkers(ctx.gw.args); i++) await loopStats(ctx.gw.url);
        } catch (e) {
          before = e as Error; // reported in the event-loop rows; the transfer still runs
        }
      }
      const cpu0 = treeCpuSeconds(ctx.gw.pid);
      const t0 = nowNs();
      const recv = ss.map((s, i) => receiveAll(s.ws, i, per, TCP_WRITE));
      ss.forEach((s, i) => void sendStream(s.sock, i, per, TCP_WRITE).catch(() => {}));
      const got: RecvResult[] = await Promise.all(recv); // each resolves on the gateway's close
      const loop = opts.eventLoop ? await loopOutcomes(ctx, before, sessions) : {};
      const received = got.reduce((a, g) => a + g.bytes, 0);
      const rate = mibPerSec(received, t0, got.map((g) => g.tLast));
      await sleep(300); // lets websockify reap session children so their CPU lands in cutime
      const cpu = treeCpuSeconds(ctx.gw.pid) - cpu0;
      const [good, why] = verify(got, per);
      const status = good === sessions ? 'ok' : 'FAIL';
      const note = joinNotes(status === 'ok' ? undefined : `${sessions - good}/${sessions} streams wrong: ${why}`, closeCodes(got));
      const out: Record<string, Outcome> = { [id]: { status, value: rate, note }, ...loop };
      if (sessions === 1) out.cpu_per_gib = { status, value: cpu / ((per * sessions) / GiB), note };
      return out;
    },
  };
}

export function wsToTcp(sessions: number): Scenario {
  const id = `ws2tcp_${sessions}`;
  return {
    id,
    timeoutMs: 90_000,
    metrics: [{ id, label: `WS→TCP ${sessions} session${sessions > 1 ? 's' : ''}`, unit: 'MiB/s', better: 'higher', digits: 0 }],
    async run(ctx) {
      const per = Math.floor(totalBytes(ctx) / sessions);
      const ss = await openSessions(ctx, sessions);
      const t0 = nowNs();
      const sinks = ss.map((s, i) => sink(s.sock, i, per, WS_MESSAGE));
      const sends = ss.map((s, i) => sendAll(s.ws, i, per, WS_MESSAGE).catch(() => {}));
      await Promise.all(sends); // all handed to the kernel; now wait for the backend
      await untilDoneOrStalled(sinks);
      const got = await Promise.all(sinks.map((k) => k.done));
      const received = got.reduce((a, g) => a + g.bytes, 0);
      const rate = mibPerSec(received, t0, got.map((g) => g.tEnd));
      // Close only after the backend has everything: websockify drops queued
      // client data when the client's close frame arrives, which is not what this measures.
      await Promise.all(ss.map((s) => closeWs(s.ws)));
      const [good, why] = verify(got, per);
      if (good === sessions) return { [id]: ok(rate) };
      return { [id]: { status: 'FAIL', value: rate, note: `${sessions - good}/${sessions} streams wrong: ${why}` } };
    },
  };
}

/** 16 sessions whose backend writes 4 MiB and ends at once: how many arrive whole? */
export function closeAfterLastByte(): Scenario {
  const n = 16;
  const per = 4 * MiB;
  return {
    id: 'close_after',
    timeoutMs: 60_000,
    metrics: [{ id: 'close_after', label: 'Complete after end (4 MiB×16)', unit: 'streams', better: 'higher', digits: 0, outOf: n }],
    async run(ctx) {
      const ss = await openSessions(ctx, n);
      const recv = ss.map((s, i) => receiveAll(s.ws, i, per, TCP_WRITE));
      for (const [i, s] of ss.entries()) {
        // No waiting for 'drain': queue everything, then FIN straight away.
        for (const c of chunks(i, per, TCP_WRITE)) s.sock.write(c);
        s.sock.end();
      }
      const got = await Promise.all(recv);
      const [good, why] = verify(got, per);
      return { close_after: ok(good, joinNotes(good === n ? undefined : why, closeCodes(got))) };
    },
  };
}
