// Bulk transfer in each direction, every byte verified by sha256, plus the
// "backend ends right after its last write" data-loss check.
import { sendStream, sink } from '../backend.js';
import { receiveAll, sendAll, closeWs, type RecvResult } from '../client.js';
import { chunks, expectedHash } from '../data.js';
import { treeCpuSeconds } from '../proc-stats.js';
import { GiB, MiB, nowNs, sleep } from '../util.js';
import { ok, openSessions, type Ctx, type Outcome, type Scenario } from './common.js';

const TCP_WRITE = 256 * 1024; // backend write size; gateways re-chunk as they like
const WS_MESSAGE = 64 * 1024;

const totalBytes = (ctx: Ctx): number => (ctx.quick ? 64 : 256) * MiB;

function mibPerSec(bytes: number, t0: bigint, ends: Array<bigint | undefined>): number {
  let last = t0;
  for (const t of ends) if (t !== undefined && t > last) last = t;
  return bytes / MiB / (Number(last - t0) / 1e9);
}

/** Counts streams whose length and hash match; describes the first few that don't. */
function verify(got: Array<{ bytes: number; hash: string }>, per: number, size: number): [number, string] {
  let good = 0;
  const bad: string[] = [];
  got.forEach((g, i) => {
    if (g.bytes === per && g.hash === expectedHash(i, per, size)) good++;
    else if (bad.length < 3) bad.push(`#${i} ${g.bytes}/${per} B${g.bytes === per ? ' bad hash' : ''}`);
  });
  return [good, bad.join(', ')];
}

export function tcpToWs(sessions: number): Scenario {
  const id = `tcp2ws_${sessions}`;
  return {
    id,
    timeoutMs: 90_000,
    metrics: [
      { id, label: `TCP→WS ${sessions} session${sessions > 1 ? 's' : ''}`, unit: 'MiB/s', better: 'higher', digits: 0 },
      ...(sessions === 1
        ? [{ id: 'cpu_per_gib', label: 'CPU per GiB TCP→WS', unit: 's/GiB', better: 'lower' as const, digits: 2 }]
        : []),
    ],
    async run(ctx) {
      const per = Math.floor(totalBytes(ctx) / sessions);
      for (let i = 0; i < sessions; i++) expectedHash(i, per, TCP_WRITE); // warm cache, untimed
      const ss = await openSessions(ctx, sessions);
      const cpu0 = treeCpuSeconds(ctx.gw.pid);
      const t0 = nowNs();
      const recv = ss.map((s) => receiveAll(s.ws, per));
      ss.forEach((s, i) => void sendStream(s.sock, i, per, TCP_WRITE).catch(() => {}));
      const got: RecvResult[] = await Promise.all(recv); // each resolves on the gateway's close
      const rate = mibPerSec(per * sessions, t0, got.map((g) => g.tFull));
      await sleep(300); // lets websockify reap session children so their CPU lands in cutime
      const cpu = treeCpuSeconds(ctx.gw.pid) - cpu0;
      const [good, why] = verify(got, per, TCP_WRITE);
      const status = good === sessions ? 'ok' : 'FAIL';
      const note = status === 'ok' ? undefined : `${sessions - good}/${sessions} streams wrong: ${why}`;
      const out: Record<string, Outcome> = { [id]: { status, value: rate, note } };
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
      for (let i = 0; i < sessions; i++) expectedHash(i, per, WS_MESSAGE);
      const ss = await openSessions(ctx, sessions);
      const t0 = nowNs();
      const sinks = ss.map((s) => sink(s.sock, per));
      ss.forEach((s, i) => void sendAll(s.ws, i, per, WS_MESSAGE).catch(() => {}));
      const got = await Promise.all(sinks);
      const rate = mibPerSec(per * sessions, t0, got.map((g) => g.tFull));
      // Close only after the backend has everything: websockify drops queued
      // client data when the client's close frame arrives, which is not what this measures.
      await Promise.all(ss.map((s) => closeWs(s.ws)));
      const [good, why] = verify(got, per, WS_MESSAGE);
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
      for (let i = 0; i < n; i++) expectedHash(i, per, TCP_WRITE);
      const ss = await openSessions(ctx, n);
      const recv = ss.map((s) => receiveAll(s.ws, per));
      for (const [i, s] of ss.entries()) {
        // No waiting for 'drain': queue everything, then FIN straight away.
        for (const c of chunks(i, per, TCP_WRITE)) s.sock.write(c);
        s.sock.end();
      }
      const got = await Promise.all(recv);
      const [good, why] = verify(got, per, TCP_WRITE);
      return { close_after: ok(good, good === n ? undefined : why) };
    },
  };
}
