// Starting, probing and stopping the three gateways as separate processes.
// Each runs in its own process group so websockify's per-session children die
// with it, and an 'exit' hook kills whatever is still running.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { log, sleep } from './util.js';

export type GatewayName = 'wsgate' | 'websockify' | 'floor';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WSGATE_BIN = `${REPO_ROOT}bin/wsgate.js`;
const FLOOR_JS = fileURLToPath(new URL('./floor-relay.js', import.meta.url));
const WEBSOCKIFY = '/usr/bin/websockify';

interface GatewaySpec {
  name: GatewayName;
  /** Why it cannot run at all, if so. */
  unavailable(): string | undefined;
  command(listenPort: number, target: string): [string, string[]];
}

export const GATEWAYS: GatewaySpec[] = [
  {
    name: 'wsgate',
    unavailable: () => (existsSync(WSGATE_BIN) ? undefined : 'bin/wsgate.js not found'),
    command: (p, t) => [process.execPath, [WSGATE_BIN, '--log-level', 'warn', String(p), t]],
  },
  {
    name: 'websockify',
    unavailable: () => (existsSync(WEBSOCKIFY) ? undefined : `${WEBSOCKIFY} missing`),
    command: (p, t) => [WEBSOCKIFY, [String(p), t]],
  },
  {
    name: 'floor',
    unavailable: () => (existsSync(FLOOR_JS) ? undefined : 'dist/bench/floor-relay.js missing'),
    command: (p, t) => [process.execPath, [FLOOR_JS, String(p), t]],
  },
];

/** Installs Debian's websockify if absent (we run as root; the bench needs it). */
export function ensureWebsockify(): void {
  if (existsSync(WEBSOCKIFY)) return;
  log('websockify missing: apt-get update && apt-get install -y websockify');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 2, 2], env });
    execFileSync('apt-get', ['install', '-y', 'websockify'], { stdio: ['ignore', 2, 2], env });
  } catch (e) {
    log(`could not install websockify: ${(e as Error).message}`);
  }
}

export function websockifyVersion(): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'websockify'], { encoding: 'utf8' });
  } catch {
    return 'unknown';
  }
}

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* group already gone */
  }
}

process.on('exit', () => {
  for (const c of live) killGroup(c, 'SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => process.exit(130));
}

export interface RunningGateway {
  name: GatewayName;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

/** Connects a plain TCP socket: true once something accepts on the port. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startGateway(spec: GatewaySpec, listenPort: number, target: string): Promise<RunningGateway> {
  const [cmd, args] = spec.command(listenPort, target);
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  // Keep only a tail of the output: enough to explain a failure, and reading it
  // stops a chatty gateway (websockify logs every connection) blocking on a full pipe.
  let tail = '';
  const keep = (d: Buffer): void => {
    tail = (tail + d.toString()).slice(-2000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: string | undefined;
  const exitP = new Promise<void>((r) =>
    child.once('exit', (code, sig) => {
      exited = `exited (${sig ?? code})`;
      r();
    }),
  );
  child.once('error', (e) => (exited = `spawn failed: ${e.message}`));

  const stop = async (): Promise<void> => {
    if (!exited) {
      killGroup(child, 'SIGTERM');
      await Promise.race([exitP, sleep(1500)]);
    }
    killGroup(child, 'SIGKILL'); // also any per-session children left behind
    await Promise.race([exitP, sleep(1000)]);
    live.delete(child);
  };

  const deadline = Date.now() + 10_000;
  while (!exited && Date.now() < deadline) {
    if (await canConnect(listenPort)) {
      return { name: spec.name, pid: child.pid!, url: `ws://127.0.0.1:${listenPort}/`, stop };
    }
    await sleep(50);
  }
  const why = exited ?? 'did not listen within 10 s';
  await stop();
  throw new Error(`${spec.name} ${why}: ${tail.trim().split('\n').slice(-3).join(' | ')}`);
}
