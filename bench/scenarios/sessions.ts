// Many-session scenarios: idle memory/CPU and session setup rate.
import { connectWs, closeWs, readBytes } from '../client.js';
import { isWsgate, wsgateWorkers, type GatewayName } from '../gateways.js';
import { spawnIdleClients } from '../idle-clients.js';
import { fdHardLimit, processTree, treeCpuSeconds, treePssKiB } from '../proc-stats.js';
import { nowNs, pool, secondsSince, sleep } from '../util.js';
import type { Scenario } from './common.js';

/**
 * websockify 0.10 forks a ~4 MiB Python process per session and cannot hold
 * more than ~500 at once: the parent keeps a pipe fd per child, so accepted
 * sockets soon get fds >= 1024 and the child's select() fails right after the
 * handshake. Its accept loop is also slow (~45 s for 500), so --quick uses fewer.
 */
export const websockifyIdleCap = (quick: boolean): number => (quick ? 250 : 500);

/** Sockets one session costs a single relay process: its client and its backend connection. */
const FDS_PER_SESSION = 2;
/** stdio, epoll, the listener, IPC and the like. */
const FD_HEADROOM = 100;

/**
 * n idle sessions: PSS growth of the gateway's process tree per session, and
 * its CPU over 2 s. The clients live in a child process (idle-clients.ts) so
 * the harness holds only the backend side. `wsgateArgs` lets a size that one
 * process cannot hold under the fd limit spread wsgate over workers.
 */
export function idleSessions(n: number, wsgateArgs?: string[]): Scenario {
  const fdLimit = fdHardLimit();
  return {
    id: `idle_${n}`,
    timeoutMs: 180_000,
    wsgateArgs,
    metrics: [
      { id: `mem_${n}`, label: `Memory / idle session @${n}`, unit: 'KiB', better: 'lower', digits: 1 },
      { id: `idlecpu_${n}`, label: `CPU in 2 s idle @${n}`, unit: 'ms', better: 'lower', digits: 0 },
    ],
    skip(gw: GatewayName, _quick: boolean, wsArgs: string[]) {
      // The @1000 row already shows websockify at its cap; a larger row would repeat it.
      if (gw === 'websockify') return n > 1000 ? 'not run: see its capped @1000 row' : undefined;
      const procs = isWsgate(gw) ? wsgateWorkers(wsArgs) : 1;
      const perProc = Math.ceil((n * FDS_PER_SESSION) / procs) + FD_HEADROOM;
      if (perProc <= fdLimit) return undefined;
      const who = procs > 1 ? `each of ${procs} processes` : 'its one process';
      return `not run @${n}: ${who} would need ~${perProc} fds (a client and a backend socket per session), over the hard limit of ${fdLimit}`;
    },
    async run(ctx) {
      const { gw, backend, scope } = ctx;
      const count = gw.name === 'websockify' ? Math.min(n, websockifyIdleCap(ctx.quick)) : n;
      const tag = count === n ? undefined : `n=${count}`;
      backend.handler = () => {}; // accept and stay silent
      const accepted0 = backend.accepted; // the readiness probe's connection
      await sleep(500);
      // wsgate's primary listens once every worker is ready, but a fresh worker
      // may still be allocating: wait so the baseline holds all of them.
      await allProcesses(gw.pid, wsgateWorkers(gw.args));
      const pss0 = treePssKiB(gw.pid);
      const clients = spawnIdleClients(gw.url, count, 32);
      scope.add(() => clients.close());
      await clients.opened;
      // The gateway may dial the backend just after the handshake completes.
      while (backend.accepted - accepted0 < count) await sleep(50);
      await sleep(ctx.quick ? 1000 : 2000); // let allocations and GC settle
      const pss1 = treePssKiB(gw.pid);
      const cpu0 = treeCpuSeconds(gw.pid);
      await sleep(2000);
      const cpuMs = (treeCpuSeconds(gw.pid) - cpu0) * 1000;
      // An idle session must stay open; a gateway that drops some has failed.
      const alive = await clients.count();
      const status = alive === count ? 'ok' : 'FAIL';
      const note = alive === count ? undefined : `only ${alive} of ${count} idle sessions still open`;
      return {
        [`mem_${n}`]: { status, value: (pss1 - pss0) / Math.max(alive, 1), tag, note },
        [`idlecpu_${n}`]: { status, value: cpuMs, tag, note },
      };
    },
  };
}

/**
 * With workers > 1: waits until the tree has a primary plus that many workers
 * and its PSS has stopped growing (the workers finished loading), at most 10 s.
 * Sessions then spread evenly: the primary hands each connection to the
 * worker with the fewest open (~5,000 each of 10,000, ~10,020 fds).
 */
async function allProcesses(pid: number, workers: number): Promise<void> {
  if (workers <= 1) return;
  const deadline = Date.now() + 10_000;
  let last = -1;
  while (Date.now() < deadline) {
    const pss = treePssKiB(pid);
    if (processTree(pid).length > workers && Math.abs(pss - last) < 0.005 * pss) return;
    last = pss;
    await sleep(250);
  }
}

/**
 * connect → backend sends 1 byte → client gets it → client closes, 8 at a
 * time; stops early after a time budget (websockify manages ~20/s here).
 */
export function setupRate(): Scenario {
  return {
    id: 'setup',
    timeoutMs: 120_000,
    metrics: [{ id: 'setup_rate', label: 'Session setup (8 parallel)', unit: 'sess/s', better: 'higher', digits: 0 }],
    async run(ctx) {
      const { gw, backend, scope } = ctx;
      const total = ctx.quick ? 500 : 2000;
      const budgetS = ctx.quick ? 4 : 10;
      backend.handler = (s) => s.write(Buffer.of(0x2a));
      const t0 = nowNs();
      let done = 0;
      await pool(Array.from({ length: total }), 8, async () => {
        if (secondsSince(t0) > budgetS) return;
        const { ws, opened } = connectWs(gw.url);
        scope.add(() => ws.terminate());
        const first = readBytes(ws, 1); // listen before open: the byte may ride with the 101
        first.catch(() => {});
        await opened;
        await first;
        await closeWs(ws);
        done++;
      });
      const rate = done / secondsSince(t0);
      return { setup_rate: { status: 'ok', value: rate, tag: done < total ? `${budgetS} s cap` : undefined } };
    },
  };
}
