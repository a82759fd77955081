// Worker producers vs main-thread producers: messages per second and MB/s
// a client receives, for 1 and 16 sessions; then a thread pool vs a fresh
// thread per producer; then whether a shared-memory ring would beat
// postMessage. Run: `node dist/bench/workers.js` (after npm run build). Clients run in
// a child process (this file with --client), so they do not share the
// gateway's thread. Results go to stdout as Markdown (docs/workers.md).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { buildConfig } from '../src/config/build.js';
import { createLogger } from '../src/observability/logger.js';
import { Gateway } from '../src/server/gateway.js';
import { measureRing } from './workers-ring.js';

const SELF = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PLUGIN = './dist/bench/workers-plugin.js';

interface ClientResult {
  messages: number;
  bytes: number;
  seconds: number;
  codes: number[];
}

/** Client mode: opens `sessions` sessions to `url` at once, counts everything until all have closed. */
async function client(url: string, sessions: number): Promise<void> {
  const r: ClientResult = { messages: 0, bytes: 0, seconds: 0, codes: [] };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: sessions }, () => new Promise<void>((resolve) => {
    const ws = new WebSocket(url);
    ws.on('message', (d: Buffer) => {
      r.messages++;
      r.bytes += d.length;
    });
    ws.on('error', () => {});
    ws.once('close', (code) => {
      r.codes.push(code);
      resolve();
    });
  })));
  r.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify(r));
}

function runClient(url: string, sessions: number): Promise<ClientResult> {
  const child = spawn(process.execPath, [SELF, '--client', url, String(sessions)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ClientResult) : reject(new Error(`client exited ${code}`)))));
}

async function startGateway(routes: object[]): Promise<{ gateway: Gateway; url: (p: string) => string }> {
  const config = buildConfig({ listen: '127.0.0.1:0', routes }, () => undefined, REPO);
  const gateway = new Gateway(config, createLogger('silent'));
  const [address] = await gateway.start();
  return { gateway, url: (p) => `ws://127.0.0.1:${address!.port}${p}` };
}

/** Samples this process's RSS every 20 ms while `work` runs; returns the result and the peak in MB. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<[T, number]> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    return [await work(), peak / 1e6];
  } finally {
    clearInterval(timer);
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const gw = await startGateway([
    { path: '/main', handler: PLUGIN, mode: 'main' },
    { path: '/worker', handler: PLUGIN, mode: 'worker', poolSize: 4 },
  ]);
  console.log(`Node ${process.version}, ${(await import('node:os')).availableParallelism()} CPUs; 4 producers per session; gateway and clients in separate processes.\n`);
  console.log('| producers on | message | sessions | messages/s | MB/s | seconds |');
  console.log('| --- | --- | --- | ---: | ---: | ---: |');
  const shapes = [
    { name: '64 B', size: 64, perSession: 400_000, query: '' },
    { name: '64 KiB', size: 65536, perSession: 2048, query: '' },
    { name: '64 KiB moved', size: 65536, perSession: 2048, query: '&transfer=1' },
  ];
  for (const shape of shapes) {
    for (const sessions of [1, 16]) {
      for (const where of ['main', 'worker'] as const) {
        if (where === 'main' && shape.query) continue; // nothing to move on the main thread
        const count = Math.ceil(shape.perSession / 4 / (sessions === 16 ? 4 : 1));
        const r = await runClient(gw.url(`/${where}?producers=4&count=${count}&size=${shape.size}${shape.query}`), sessions);
        if (r.codes.some((c) => c !== 1000)) throw new Error(`sessions closed with ${r.codes.join()}`);
        const label = where === 'main' ? 'main thread' : 'worker threads (pool of 4)';
        console.log(`| ${label} | ${shape.name} | ${sessions} | ${fmt(r.messages / r.seconds)} | ${fmt(r.bytes / r.seconds / 1e6, 1)} | ${fmt(r.seconds, 2)} |`);
      }
    }
  }

  await gw.gateway.stop(0);

  // Each in its own gateway process, so its RSS is its own.
  console.log('\nPool vs a fresh thread per producer: 16 sessions x 10 producers x 1000 messages of 64 B, each in a fresh gateway process.\n');
  console.log('| threads | seconds | messages/s | gateway RSS before | gateway peak RSS |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [reuse, label] of [['1', 'pool of 10, reused'], ['0', 'fresh thread per producer (160)']] as const) {
    const child = spawn(process.execPath, [SELF, '--threads', reuse], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    await new Promise((resolve) => child.once('exit', resolve));
    const r = JSON.parse(out) as ClientResult & { before: number; peak: number };
    console.log(`| ${label} | ${fmt(r.seconds, 2)} | ${fmt(r.messages / r.seconds)} | ${fmt(r.before)} MB | ${fmt(r.peak)} MB |`);
  }

  console.log('\nMoving bytes from a worker to the main thread (no WebSocket): postMessage vs a SharedArrayBuffer ring.\n');
  console.log('| way | message | messages/s | MB/s |');
  console.log('| --- | --- | ---: | ---: |');
  const rows = await measureRing([64, 4096, 65536], (chunk) => (chunk === 64 ? 16e6 : chunk === 4096 ? 128e6 : 512e6));
  for (const row of rows) console.log(`| ${row.mode} | ${row.chunk === 64 ? '64 B' : row.chunk === 4096 ? '4 KiB' : '64 KiB'} | ${fmt(row.msgsPerSec)} | ${fmt(row.mbPerSec)} |`);
}

/** --threads mode: one gateway whose producers run on a pool of 10 (reuse) or a fresh thread each. */
async function threads(reuse: boolean): Promise<void> {
  const gw = await startGateway([{ path: '/t', handler: PLUGIN, mode: 'worker', poolSize: 10, reuse }]);
  const before = process.memoryUsage.rss() / 1e6;
  const [r, peak] = await withPeakRss(() => runClient(gw.url('/t?producers=10&count=1000&size=64'), 16));
  await gw.gateway.stop(0);
  process.stdout.write(JSON.stringify({ ...r, before, peak }));
}

if (process.argv[2] === '--client') await client(process.argv[3]!, Number(process.argv[4]));
else if (process.argv[2] === '--threads') await threads(process.argv[3] === '1');
else await main();
