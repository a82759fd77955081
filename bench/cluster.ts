// What the cluster hand-off costs: session setup rate and one session's
// TCP->WS throughput through a wsgate gateway alone, and through the gateway
// plus `wsgate cluster-proxy` in version 1 and version 2. All three routes
// share one gateway process and one SQLite lookup, so the difference is the
// extra hop and the hand-off.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Backend } from './backend.js';
import { connectWs } from './client.js';
import { REPO_ROOT } from './gateways.js';
import { setupRate, waitUntilServing } from './resolvers.js';
import { MiB, freePort, log, median, nowNs, secondsSince, sleep } from './util.js';

const BIN = join(REPO_ROOT, 'bin', 'wsgate.js');
const ROUTES = ['alone', 'v1', 'v2'] as const;
type RouteName = (typeof ROUTES)[number];

export interface ClusterRates {
  /** Sessions per second (8 in parallel: connect, first byte, close). */
  setup: Record<RouteName, number | null>;
  /** MiB/s of one session, node -> browser. */
  throughput: Record<RouteName, number | null>;
  note?: string;
}

export async function clusterRates(quick: boolean): Promise<ClusterRates> {
  const out: ClusterRates = { setup: { alone: null, v1: null, v2: null }, throughput: { alone: null, v1: null, v2: null } };
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-cluster-'));
  const children: ChildProcess[] = [];
  const oneByte = await Backend.start();
  oneByte.handler = (s) => s.write(Buffer.of(0x2a));
  const bulkBytes = (quick ? 128 : 512) * MiB;
  const bulk = await Backend.start();
  const block = Buffer.alloc(MiB, 0x5a);
  bulk.handler = (s) => {
    let left = bulkBytes;
    const pump = () => {
      while (left > 0) {
        left -= block.length;
        if (!s.write(block)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  };
  try {
    writeFileSync(join(dir, 'secret'), 'bench secret\n');
    const proxyPort = await freePort();
    children.push(spawn(process.execPath, [BIN, 'cluster-proxy', '--listen', `127.0.0.1:${proxyPort}`, '--secret-file', join(dir, 'secret'), '--allow', `127.0.0.1:${oneByte.port}`, '--allow', `127.0.0.1:${bulk.port}`, '--log-level', 'warn'], { stdio: 'ignore' }));
    const db = new Database(join(dir, 'vnc.db'));
    db.exec('CREATE TABLE vnc (vnckey TEXT PRIMARY KEY, nodehost TEXT, nodeport INTEGER, connecthost TEXT, connectport INTEGER)');
    const insert = db.prepare('INSERT INTO vnc VALUES (?, ?, ?, ?, ?)');
    for (const [name, node] of [['one', oneByte.port], ['bulk', bulk.port]] as const) {
      insert.run(`alone-${name}`, null, null, '127.0.0.1', node);
      insert.run(`cluster-${name}`, '127.0.0.1', node, '127.0.0.1', proxyPort);
    }
    db.close();
    const resolver = { type: 'sqlite', path: join(dir, 'vnc.db'), query: 'SELECT nodehost, nodeport, connecthost, connectport FROM vnc WHERE vnckey = ?' };
    const port = await freePort();
    const routes = ROUTES.map((r) => ({ path: `/${r}`, handler: 'tcp-proxy', resolver, ...(r === 'alone' ? {} : { clusterHandoff: { version: Number(r.slice(1)), secretFile: join(dir, 'secret') } }) }));
    writeFileSync(join(dir, 'wsgate.json'), JSON.stringify({ listen: `127.0.0.1:${port}`, logLevel: 'warn', routes }));
    children.push(spawn(process.execPath, [BIN, '--config', join(dir, 'wsgate.json')], { stdio: 'ignore' }));
    const url = (r: RouteName, what: 'one' | 'bulk') => `ws://127.0.0.1:${port}/${r}?key=${r === 'alone' ? 'alone' : 'cluster'}-${what}`;
    for (const r of ROUTES) {
      await waitUntilServing(url(r, 'one'));
      await setupRate(url(r, 'one'), 200, 2); // warm-up: JIT, pools, the lookup's statement
    }
    // Interleaved rounds, the order rotating, medians: the machine's load drifts.
    const rounds = quick ? 1 : 3;
    const samples = { setup: new Map<RouteName, number[]>(), throughput: new Map<RouteName, number[]>() };
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < ROUTES.length; i++) {
        const r = ROUTES[(i + round) % ROUTES.length]!;
        const setup = await setupRate(url(r, 'one'), quick ? 300 : 1500, quick ? 3 : 8);
        const mibs = await throughput(url(r, 'bulk'), bulkBytes);
        samples.setup.set(r, [...(samples.setup.get(r) ?? []), setup]);
        samples.throughput.set(r, [...(samples.throughput.get(r) ?? []), mibs]);
        log(`round ${round + 1}/${rounds} cluster ${r}: ${setup.toFixed(0)} sess/s, ${mibs.toFixed(0)} MiB/s`);
        await sleep(200);
      }
    }
    for (const r of ROUTES) {
      out.setup[r] = median(samples.setup.get(r)!);
      out.throughput[r] = median(samples.throughput.get(r)!);
    }
  } catch (e) {
    out.note = (e as Error).message.split('\n')[0];
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await oneByte.close();
    await bulk.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** MiB/s of one session that receives `bytes` from the node. */
async function throughput(url: string, bytes: number): Promise<number> {
  const { ws, opened } = connectWs(url);
  let got = 0;
  const t0 = nowNs();
  const done = new Promise<void>((resolve, reject) => {
    ws.on('message', (d: Buffer) => {
      got += d.length;
      if (got >= bytes) resolve();
    });
    ws.on('close', () => (got >= bytes ? resolve() : reject(new Error(`closed after ${got} of ${bytes} bytes`))));
  });
  try {
    await opened;
    await done;
    return bytes / MiB / secondsSince(t0);
  } finally {
    ws.terminate();
  }
}

export function renderClusterRates(r: ClusterRates): string {
  const cell = (v: number | null) => (v === null ? 'FAIL' : v.toFixed(0)).padStart(8);
  const ratio = (v: number | null, base: number | null) => (v !== null && base ? `${(v / base).toFixed(2)}x` : '-').padStart(7);
  const row = (label: string, m: Record<RouteName, number | null>) =>
    `${label.padEnd(26)} ${cell(m.alone)} ${cell(m.v1)} ${cell(m.v2)} ${ratio(m.v1, m.alone)} ${ratio(m.v2, m.alone)}`;
  return [
    '',
    'Through a cluster proxy (wsgate gateway + wsgate cluster-proxy, vs the gateway alone; same SQLite lookup; medians)',
    ...(r.note ? [`(failed: ${r.note})`] : []),
    '',
    `${''.padEnd(26)} ${'alone'.padStart(8)} ${'v1'.padStart(8)} ${'v2'.padStart(8)} ${'v1/alone'.padStart(7)} ${'v2/alone'.padStart(7)}`,
    row('Session setup (sess/s)', r.setup),
    row('TCP→WS 1 session (MiB/s)', r.throughput),
    '',
  ].join('\n');
}
