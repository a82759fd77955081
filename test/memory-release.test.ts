// After a burst of sessions ends, the gateway collects the buffers the burst
// left behind instead of holding them for as long as it stays quiet
// (/healthz?memory=1 shows where the memory is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { spawnCli, startBackend, until } from './support/index.js';

const MiB = 1024 * 1024;

interface Memory {
  rss: number;
  arrayBuffers: number;
  external: number;
}

test('/healthz?memory=1 reports the process memory; a burst of 200 sessions leaves no dead buffers once they end', { timeout: 90_000 }, async (t) => {
  const blob = Buffer.alloc(MiB, 7);
  const backend = await startBackend((s) => {
    s.on('data', () => {});
    s.write(blob);
  });
  t.after(() => backend.close());
  const cli = await spawnCli(['127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(async () => {
    cli.child.kill('SIGTERM');
    await cli.exited;
  });
  const memory = async (): Promise<Memory> => ((await (await fetch(`http://127.0.0.1:${cli.port}/healthz?memory=1`)).json()) as { memory: Memory }).memory;
  const before = await memory();
  assert.ok(before.rss > 0 && before.arrayBuffers >= 0, JSON.stringify(before));

  // 200 sessions at once, 1 MiB each way, all ended.
  await Promise.all(
    Array.from({ length: 200 }, () =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/`);
        let got = 0;
        ws.on('open', () => ws.send(blob));
        ws.on('message', (d: Buffer) => {
          got += d.length;
          if (got >= MiB) ws.close();
        });
        ws.on('close', () => (got >= MiB ? resolve() : reject(new Error(`only ${got} bytes`))));
        ws.on('error', reject);
      }),
    ),
  );
  const after = await memory();
  t.diagnostic(`arrayBuffers: before ${(before.arrayBuffers / MiB).toFixed(1)} MiB, right after the burst ${(after.arrayBuffers / MiB).toFixed(1)} MiB`);
  // The collection comes 5 s after the sessions end, and again 10 s later while the backend
  // sockets still drain (close timeout); without it the dead buffers stay as long as the gateway is quiet.
  const settled = await until(async () => {
    const m = await memory();
    return m.arrayBuffers < 24 * MiB ? m : null;
  }, { timeoutMs: 40_000, everyMs: 500, what: 'the burst\'s buffers to be collected' });
  t.diagnostic(`then ${(settled.arrayBuffers / MiB).toFixed(1)} MiB, RSS ${(settled.rss / MiB).toFixed(0)} MiB`);
});
