// Run as its own process by workers-lifecycle.test.ts: serves worker
// sessions (one to its end, one cut off mid-send), stops the gateway, prints
// what is left, and returns without process.exit(): the test checks that
// nothing (no worker thread, no port) keeps this process alive.
import { WebSocket } from 'ws';
import { startGateway } from './gateway.js';
import { liveWorkerThreads, workerPools } from '../../src/worker/pool.js';

const gw = await startGateway({
  routes: [
    { path: '/threads', handler: 'threads', workers: true },
    { path: '/flood', handler: './dist/test/support/workers-plugin.js', task: 'flood', producers: 4 },
  ],
});
const whole = new WebSocket(gw.url('/threads?count=100'));
const wholeClosed = new Promise<number>((resolve) => whole.once('close', resolve));
const cut = new WebSocket(gw.url('/flood'));
const cutClosed = new Promise((resolve) => cut.once('close', resolve));
let received = 0;
cut.on('message', () => {
  if (++received === 20) cut.terminate(); // the workers are mid-send
});
const code = await wholeClosed;
await cutClosed;
await gw.stop(0);
console.log(JSON.stringify({ code, received, liveThreads: liveWorkerThreads(), pools: workerPools().size }));
