// Small-message round trip through gateway and a TCP echo backend.
import { randomBytes } from 'node:crypto';
import { closeWs, readBytes } from '../client.js';
import { nowNs, percentile } from '../util.js';
import { ok, openSessions, type Scenario } from './common.js';

const SIZE = 64;

export function echo(): Scenario {
  return {
    id: 'echo',
    timeoutMs: 60_000,
    metrics: [
      { id: 'echo_p50', label: 'Echo RTT p50 (64 B)', unit: 'µs', better: 'lower', digits: 0 },
      { id: 'echo_p99', label: 'Echo RTT p99 (64 B)', unit: 'µs', better: 'lower', digits: 0 },
    ],
    async run(ctx) {
      const iterations = ctx.quick ? 1000 : 5000;
      const warmup = ctx.quick ? 200 : 500;
      const [s] = await openSessions(ctx, 1);
      const { ws, sock } = s!;
      sock.on('data', (d: Buffer) => sock.write(d));
      const msg = randomBytes(SIZE);
      const samples: number[] = [];
      for (let i = 0; i < warmup + iterations; i++) {
        const t0 = nowNs();
        const reply = readBytes(ws, SIZE);
        ws.send(msg, { binary: true });
        const got = await reply;
        const us = Number(nowNs() - t0) / 1e3;
        if (!got.equals(msg)) return { echo_p50: { status: 'FAIL', note: 'echo mismatch' }, echo_p99: { status: 'FAIL' } };
        if (i >= warmup) samples.push(us);
      }
      await closeWs(ws);
      return { echo_p50: ok(percentile(samples, 50)), echo_p99: ok(percentile(samples, 99)) };
    },
  };
}
