// Session setup rate through the edge policy (src/server/policy/), against
// wsgate with a fixed target: what an Origin check, a Basic check (cached,
// and with every session hashing: bcrypt cost 10 via bcryptjs, argon2id
// with the argon2 package's defaults) and a JWT cost per connection.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientOptions } from 'ws';
import { Backend } from './backend.js';
import { REPO_ROOT } from './gateways.js';
import { setupRate, waitUntilServing } from './resolvers.js';
import { freePort, log } from './util.js';

const BIN = join(REPO_ROOT, 'bin', 'wsgate.js');

interface Case {
  name: string;
  /** The route's policy fields, and what the client sends. */
  prepare(dir: string): Promise<{ route: Record<string, unknown>; client: ClientOptions }>;
}

const basicHeader = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

async function usersFile(dir: string, kind: 'bcrypt' | 'argon2id'): Promise<string> {
  const hash = kind === 'bcrypt' ? await (await import('bcryptjs')).default.hash('bench-pw', 10) : await (await import('argon2')).hash('bench-pw');
  writeFileSync(join(dir, 'users'), `bench:${hash}\n`);
  return join(dir, 'users');
}

const CASES: Case[] = [
  { name: 'no policy', prepare: async () => ({ route: { origin: 'off' }, client: {} }) },
  { name: 'origin same-host', prepare: async () => ({ route: {}, client: { origin: 'http://127.0.0.1' } }) },
  ...(['bcrypt', 'argon2id'] as const).flatMap((kind): Case[] => [
    { name: `basic ${kind} cached`, prepare: async (dir) => ({ route: { auth: [{ type: 'basic', users: await usersFile(dir, kind) }] }, client: { headers: basicHeader('bench', 'bench-pw') } }) },
    { name: `basic ${kind} uncached`, prepare: async (dir) => ({ route: { auth: [{ type: 'basic', users: await usersFile(dir, kind), cacheTtl: 0 }] }, client: { headers: basicHeader('bench', 'bench-pw') } }) },
  ]),
  {
    name: 'jwt HS256',
    prepare: async () => {
      const { SignJWT } = await import('jose');
      const secret = 'bench-secret-bench-secret-bench-secret';
      const token = await new SignJWT({}).setSubject('bench').setAudience('wsgate').setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
      return { route: { auth: [{ type: 'jwt', secret, audience: 'wsgate' }] }, client: { headers: { Authorization: `Bearer ${token}` } } };
    },
  },
];

export interface PolicyRate {
  policy: string;
  rate: number | null;
  note?: string;
}

/** Each case's setup rate: `rounds` interleaved runs (a fresh gateway each), the median. */
export async function policySetupRates(quick: boolean, rounds = quick ? 1 : 3): Promise<PolicyRate[]> {
  const runs = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
  const notes = new Map<string, string>();
  for (let round = 0; round < rounds; round++) {
    for (const c of CASES) {
      try {
        const rate = await oneRun(c, quick);
        runs.get(c.name)!.push(rate);
        log(`policies ${c.name} (round ${round + 1}): ${rate.toFixed(0)} sess/s`);
      } catch (e) {
        notes.set(c.name, (e as Error).message.split('\n')[0]!);
      }
    }
  }
  return CASES.map((c) => {
    const rates = runs.get(c.name)!.sort((a, b) => a - b);
    return rates.length ? { policy: c.name, rate: rates[Math.floor(rates.length / 2)]! } : { policy: c.name, rate: null, note: notes.get(c.name) };
  });
}

async function oneRun(c: Case, quick: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-'));
  const backend = await Backend.start();
  backend.handler = (s) => s.write(Buffer.of(0x2a));
  let child: ReturnType<typeof spawn> | null = null;
  try {
    const { route, client } = await c.prepare(dir);
    const port = await freePort();
    const config = { listen: `127.0.0.1:${port}`, logLevel: 'warn', authFailures: { max: 1_000_000 }, routes: [{ path: '/r', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, ...route }] };
    writeFileSync(join(dir, 'wsgate.json'), JSON.stringify(config));
    child = spawn(process.execPath, [BIN, '--config', join(dir, 'wsgate.json')], { stdio: 'ignore' });
    const url = `ws://127.0.0.1:${port}/r`;
    await waitUntilServing(url, client);
    // Hashing without a cache is slow on purpose: fewer sessions, the same time budget.
    const slow = c.name.endsWith('uncached');
    return await setupRate(url, slow ? 200 : quick ? 300 : 1500, quick ? 3 : 8, client);
  } finally {
    child?.kill('SIGKILL');
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderPolicyRates(rates: PolicyRate[]): string {
  const base = rates.find((r) => r.policy === 'no policy')?.rate ?? null;
  const rows = rates.map((r) => {
    const rate = r.rate === null ? `FAIL (${r.note})` : r.rate.toFixed(0);
    const ratio = r.rate !== null && base ? `${(r.rate / base).toFixed(2)}x` : '-';
    return `${r.policy.padEnd(24)} ${rate.padStart(8)}   ${ratio.padStart(6)}`;
  });
  return ['', 'Session setup through the edge policy (wsgate, 8 parallel, median of rounds; ratio vs no policy)', '', 'policy                     sess/s   vs none', ...rows, ''].join('\n');
}
