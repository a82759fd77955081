// Many-session scenarios: idle memory/CPU and session setup rate.
import { connectWs, openWs, closeWs, readBytes } from '../client.js';
import type { GatewayName } from '../gateways.js';
import { treeCpuSeconds, treePssKiB } from '../proc-stats.js';
import { nowNs, pool, secondsSince, sleep } from '../util.js';
import { ok, type Scenario } from './common.js';

/** websockify forks a ~3 MiB Python process per session; 5,000 would be ~16 GiB. */
export const WEBSOCKIFY_IDLE_CAP = 1000;

export function idleSessions(n: number): Scenario {
  return {
    id: `idle_${n}`,
    timeoutMs: 180_000,
    metrics: [
      { id: `mem_${n}`, label: `Memory / idle session @${n}`, unit: 'KiB', better: 'lower', digits: 1 },
      { id: `idlecpu_${n}`, label: `CPU in 2 s idle @${n}`, unit: 'ms', better: 'lower', digits: 0 },
    ],
    skip: (gw: GatewayName) =>
      gw === 'websockify' && n > WEBSOCKIFY_IDLE_CAP ? `capped at ${WEBSOCKIFY_IDLE_CAP} sessions` : undefined,
    async run(ctx) {
      const { gw, backend, scope } = ctx;
      backend.handler = () => {}; // accept and stay silent
      await sleep(500);
      const pss0 = treePssKiB(gw.pid);
      const indices = Array.from({ length: n }, (_, i) => i);
      await pool(indices, 32, async () => {
        const ws = await openWs(gw.url);
        scope.add(() => ws.terminate());
      });
      // The gateway may dial the backend just after the handshake completes.
      while (backend.accepted < n) await sleep(50);
      await sleep(ctx.quick ? 1000 : 2000); // let allocations and GC settle
      const pss1 = treePssKiB(gw.pid);
      const cpu0 = treeCpuSeconds(gw.pid);
      await sleep(2000);
      const cpuMs = (treeCpuSeconds(gw.pid) - cpu0) * 1000;
      return { [`mem_${n}`]: ok((pss1 - pss0) / n), [`idlecpu_${n}`]: ok(cpuMs) };
    },
  };
}

/** connect → backend sends 1 byte → client gets it → client closes, 8 at a time. */
export function setupRate(): Scenario {
  return {
    id: 'setup',
    timeoutMs: 120_000,
    metrics: [{ id: 'setup_rate', label: 'Session setup (8 parallel)', unit: 'sess/s', better: 'higher', digits: 0 }],
    async run(ctx) {
      const { gw, backend, scope } = ctx;
      const total = ctx.quick ? 500 : 2000;
      backend.handler = (s) => s.write(Buffer.of(0x2a));
      const t0 = nowNs();
      await pool(Array.from({ length: total }), 8, async () => {
        const { ws, opened } = connectWs(gw.url);
        scope.add(() => ws.terminate());
        const first = readBytes(ws, 1); // listen before open: the byte may ride with the 101
        first.catch(() => {});
        await opened;
        await first;
        await closeWs(ws);
      });
      return { setup_rate: ok(total / secondsSince(t0)) };
    },
  };
}
