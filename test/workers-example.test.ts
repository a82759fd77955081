// examples/gzip-worker-plugin.ts, the worked example of docs/workers.md:
// every message comes back gzipped by a worker thread, in request order,
// each reply one whole binary message; the gateway's stop ends its threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { connect, closed, startGateway } from './support/index.js';
import { liveWorkerThreads } from '../src/worker/pool.js';

test('the gzip worker plugin answers each message with its gzip, in order, and its threads end with the gateway', { timeout: 60_000 }, async (t) => {
  const gw = await startGateway({ routes: [{ path: '/gzip', handler: './dist/examples/gzip-worker-plugin.js', threads: 2, level: 1 }] });
  t.after(() => gw.stop());
  const ws = await connect(gw.url('/gzip'));
  const requests = [Buffer.from('hello, worker'), randomBytes(1024 * 1024), Buffer.alloc(5 * 1024 * 1024, 'abc'), Buffer.alloc(0)];
  const replies: Array<{ data: Buffer; isBinary: boolean }> = [];
  const all = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      replies.push({ data, isBinary });
      if (replies.length === requests.length) resolve();
    });
  });
  for (const r of requests) ws.send(r);
  await all;
  for (const [i, r] of replies.entries()) {
    assert.equal(r.isBinary, true);
    assert.ok(gunzipSync(r.data).equals(requests[i]!), `reply ${i} is the gzip of request ${i}`);
  }
  ws.close(1000);
  assert.equal((await closed(ws)).code, 1000);
  await gw.stop();
  assert.equal(liveWorkerThreads(), 0);
});
