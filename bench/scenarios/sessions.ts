// Many-session scenarios: idle memory/CPU and session setup rate.
import { connectWs, openWs, closeWs, readBytes } from '../client.js';
import WebSocket from 'ws';
import type { GatewayName } from '../gateways.js';
import { treeCpuSeconds, treePssKiB } from '../proc-stats.js';
import { nowNs, pool, secondsSince, sleep } from '../util.js';
import type { Scenario } from './common.js';

/**
 * websockify 0.10 forks a ~4 MiB Python process per session and cannot hold
 * more than ~500 at once: the parent keeps a pipe fd per child, so accepted
 * sockets soon get fds >= 1024 and the child's select() fails right after the
 * handshake. Its accept loop is also slow (~45 s for 500), so --quick uses fewer.
 */
export const websockifyIdleCap = (quick: boolean): number => (quick ? 250 : 500);

export function idleSessions(n: number): Scenario {
  return {
    id: `idle_${n}`,
    timeoutMs: 180_000,
    metrics: [
      { id: `mem_${n}`, label: `Memory / idle session @${n}`, unit: 'KiB', better: 'lower', digits: 1 },
      { id: `idlecpu_${n}`, label: `CPU in 2 s idle @${n}`, unit: 'ms', better: 'lower', digits: 0 },
    ],
    // The @1000 row already shows websockify at its cap; a 5000 row would repeat it.
    skip: (gw: GatewayName) => (gw === 'websockify' && n > 1000 ? 'not run: see its capped @1000 row' : undefined),
    async run(ctx) {
      const { gw, backend, scope } = ctx;
      const count = gw.name === 'websockify' ? Math.min(n, websockifyIdleCap(ctx.quick)) : n;
      const tag = count === n ? undefined : `n=${count}`;
      backend.handler = () => {}; // accept and stay silent
      const accepted0 = backend.accepted; // the readiness probe's connection
      await sleep(500);
      const pss0 = treePssKiB(gw.pid);
      const clients: WebSocket[] = [];
      await pool(Array.from({ length: count }), 32, async () => {
        const ws = await openWs(gw.url);
        scope.add(() => ws.terminate());
        clients.push(ws);
      });
      // The gateway may dial the backend just after the handshake completes.
      while (backend.accepted - accepted0 < count) await sleep(50);
      await sleep(ctx.quick ? 1000 : 2000); // let allocations and GC settle
      const pss1 = treePssKiB(gw.pid);
      const cpu0 = treeCpuSeconds(gw.pid);
      await sleep(2000);
      const cpuMs = (treeCpuSeconds(gw.pid) - cpu0) * 1000;
      // An idle session must stay open; a gateway that drops some has failed.
      const alive = clients.filter((ws) => ws.readyState === WebSocket.OPEN).length;
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
