// Session setup rate through each token resolver, against wsgate with a fixed
// target: what a lookup costs per connection (issue 3's benchmark). Each store
// gets its own table/keys for the run and loses them afterwards.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ClientOptions } from 'ws';
import { Backend } from './backend.js';
import { closeWs, connectWs, readBytes } from './client.js';
import { REPO_ROOT } from './gateways.js';
import { freePort, log, nowNs, pool, secondsSince, sleep } from './util.js';

const BIN = join(REPO_ROOT, 'bin', 'wsgate.js');
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const MYSQL_URL = 'mysql://root@127.0.0.1:3306/test';
const REDIS_URL = 'redis://127.0.0.1:6379';

interface Store {
  name: string;
  /** Puts TOKEN → target in the store; returns the route's resolver block (or null for the fixed target). */
  prepare(dir: string, token: string, target: string): Promise<Record<string, unknown> | null>;
  cleanup?(): Promise<void>;
}

const table = `wsgate_bench_${randomBytes(4).toString('hex')}`;
const tokensCli = (...args: string[]) => execFileSync(process.execPath, [BIN, 'tokens', ...args], { stdio: 'ignore' });

const STORES: Store[] = [
  { name: 'fixed target', prepare: async () => null },
  {
    name: 'file',
    prepare: async (dir, token, target) => {
      writeFileSync(join(dir, 'tokens'), `${token}: ${target}\n`);
      return { type: 'file', path: join(dir, 'tokens') };
    },
  },
  {
    name: 'sqlite',
    prepare: async (dir, token, target) => {
      tokensCli('add', token, target, '--db', join(dir, 'tokens.db'));
      return { type: 'sqlite', path: join(dir, 'tokens.db') };
    },
  },
  {
    name: 'postgres',
    prepare: async (_dir, token, target) => {
      tokensCli('add', token, target, '--postgres', PG_URL, '--table', table);
      return { type: 'postgres', url: PG_URL, table };
    },
    cleanup: async () => {
      const { default: pg } = await import('pg');
      const client = new pg.Client(PG_URL);
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.end();
    },
  },
  {
    name: 'mysql',
    prepare: async (_dir, token, target) => {
      tokensCli('add', token, target, '--mysql', MYSQL_URL, '--table', table);
      return { type: 'mysql', url: MYSQL_URL, table };
    },
    cleanup: async () => {
      const mysql = await import('mysql2/promise');
      const conn = await mysql.createConnection(MYSQL_URL);
      await conn.query(`DROP TABLE IF EXISTS ${table}`);
      await conn.end();
    },
  },
  {
    name: 'redis',
    prepare: async (_dir, token, target) => {
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL);
      await redis.set(`${table}:${token}`, target);
      redis.disconnect();
      return { type: 'redis', url: REDIS_URL, prefix: `${table}:` };
    },
    cleanup: async () => {
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${table}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    },
  },
  {
    name: 'jwt',
    prepare: async (_dir, _token, target) => {
      const { SignJWT } = await import('jose');
      const secret = randomBytes(32).toString('hex');
      const [host, port] = target.split(':');
      jwtToken = await new SignJWT({ host, port: Number(port) }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
      return { type: 'jwt', secret };
    },
  },
];
let jwtToken = '';

export interface ResolverRate {
  store: string;
  rate: number | null;
  note?: string;
}

/** Sessions per second (8 in parallel: connect, first byte, close) through each store. */
export async function resolverSetupRates(quick: boolean): Promise<ResolverRate[]> {
  const out: ResolverRate[] = [];
  for (const store of STORES) {
    const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-'));
    const backend = await Backend.start();
    backend.handler = (s) => s.write(Buffer.of(0x2a));
    const token = `bench${randomBytes(8).toString('hex')}`;
    let child: ReturnType<typeof spawn> | null = null;
    try {
      const resolver = await store.prepare(dir, token, `127.0.0.1:${backend.port}`);
      const port = await freePort();
      const route = resolver ? { path: '/r', handler: 'tcp-proxy', resolver } : { path: '/r', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}` };
      writeFileSync(join(dir, 'wsgate.json'), JSON.stringify({ listen: `127.0.0.1:${port}`, logLevel: 'warn', routes: [route] }));
      child = spawn(process.execPath, [BIN, '--config', join(dir, 'wsgate.json')], { stdio: 'ignore' });
      const url = `ws://127.0.0.1:${port}/r?token=${store.name === 'jwt' ? jwtToken : token}`;
      await waitUntilServing(url);
      out.push({ store: store.name, rate: await setupRate(url, quick ? 300 : 1500, quick ? 3 : 8) });
      log(`resolvers ${store.name}: ${out.at(-1)!.rate!.toFixed(0)} sess/s`);
    } catch (e) {
      out.push({ store: store.name, rate: null, note: (e as Error).message.split('\n')[0] });
    } finally {
      child?.kill('SIGKILL');
      backend.close();
      await store.cleanup?.().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export async function waitUntilServing(url: string, options: ClientOptions = {}): Promise<void> {
  const t0 = nowNs();
  for (;;) {
    try {
      await oneSession(url, options);
      return;
    } catch (e) {
      if (secondsSince(t0) > 10) throw new Error(`gateway not serving: ${(e as Error).message}`);
      await sleep(100);
    }
  }
}

async function oneSession(url: string, options: ClientOptions = {}): Promise<void> {
  const { ws, opened } = connectWs(url, options);
  const first = readBytes(ws, 1);
  first.catch(() => {});
  try {
    await opened;
    await first;
    await closeWs(ws);
  } finally {
    ws.terminate();
  }
}

/** Sessions per second, 8 in parallel (connect, first byte, close), for up to `total` sessions or `budgetS` seconds. */
export async function setupRate(url: string, total: number, budgetS: number, options: ClientOptions = {}): Promise<number> {
  const t0 = nowNs();
  let done = 0;
  await pool(Array.from({ length: total }), 8, async () => {
    if (secondsSince(t0) > budgetS) return;
    await oneSession(url, options);
    done++;
  });
  return done / secondsSince(t0);
}

export function renderResolverRates(rates: ResolverRate[]): string {
  const fixed = rates.find((r) => r.store === 'fixed target')?.rate ?? null;
  const rows = rates.map((r) => {
    const rate = r.rate === null ? `FAIL (${r.note})` : r.rate.toFixed(0);
    const ratio = r.rate !== null && fixed ? `${(r.rate / fixed).toFixed(2)}x` : '-';
    return `${r.store.padEnd(14)} ${rate.padStart(8)}   ${ratio.padStart(6)}`;
  });
  return ['', 'Session setup through each token resolver (wsgate, 8 parallel; ratio vs fixed target)', '', 'store              sess/s   vs fixed', ...rows, ''].join('\n');
}
