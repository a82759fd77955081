// Starting, probing and stopping the gateways as separate processes.
// Each runs in its own process group so websockify's per-session children die
// with it, and an 'exit' hook kills whatever is still running.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { log, sleep } from './util.js';

/** 'baseline' is wsgate as built in another checkout (--baseline=DIR), for before/after runs. */
export type GatewayName = 'wsgate' | 'baseline' | 'websockify' | 'floor';

/** Gateways that are a wsgate build: they take the wsgate arguments and serve /healthz?loop=1. */
export const isWsgate = (name: GatewayName): boolean => name === 'wsgate' || name === 'baseline';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WSGATE_BIN = `${REPO_ROOT}bin/wsgate.js`;
const FLOOR_JS = fileURLToPath(new URL('./floor-relay.js', import.meta.url));
const WEBSOCKIFY = '/usr/bin/websockify';

export interface GatewaySpec {
  name: GatewayName;
  /** Why it cannot run at all, if so. */
  unavailable(): string | undefined;
  /** `extra` is used by wsgate builds only (per-scenario and --wsgate-args options). */
  command(listenPort: number, target: string, extra: string[]): [string, string[]];
}

/** wsgate's fixed arguments; extras go between these and the positionals. */
export const WSGATE_BASE_ARGS = ['--log-level', 'warn'];

export const GATEWAYS: GatewaySpec[] = [
  {
    name: 'wsgate',
    unavailable: () => (existsSync(WSGATE_BIN) ? undefined : 'bin/wsgate.js not found'),
    command: (p, t, extra) => [process.execPath, [WSGATE_BIN, ...WSGATE_BASE_ARGS, ...extra, String(p), t]],
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

/** The `baseline` gateway: DIR/bin/wsgate.js, started exactly like wsgate. */
export function baselineGateway(dir: string): GatewaySpec {
  const bin = baselineBin(dir);
  return {
    name: 'baseline',
    unavailable: () => (existsSync(bin) ? undefined : `${bin} not found`),
    command: (p, t, extra) => [process.execPath, [bin, ...WSGATE_BASE_ARGS, ...extra, String(p), t]],
  };
}

const baselineBin = (dir: string): string => path.join(path.resolve(dir), 'bin/wsgate.js');

/** "185f083 subject" of DIR's HEAD, flagged if its tree has edits; undefined if git cannot tell. */
export function baselineCommit(dir: string): string | undefined {
  const git = (...a: string[]): string =>
    execFileSync('git', ['-C', dir, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git('log', '-1', '--format=%h %s');
    // Uncommitted edits mean the commit alone does not say what was measured.
    return git('status', '--porcelain', '--untracked-files=no') ? `${head} + uncommitted changes` : head;
  } catch {
    return undefined;
  }
}

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

const helps = new Map<string, string>();

/**
 * The first "--flag" in `args` that `wsgate --help` does not list (e.g. --workers before it exists);
 * `baselineDir` asks the baseline build's help instead.
 */
export function unsupportedWsgateFlag(args: string[], baselineDir?: string): string | undefined {
  const bin = baselineDir === undefined ? WSGATE_BIN : baselineBin(baselineDir);
  let help = helps.get(bin);
  if (help === undefined) {
    try {
      help = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    } catch (e) {
      help = (e as { stdout?: string }).stdout ?? '';
    }
    helps.set(bin, help);
  }
  const flags = args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
  return flags.find((f) => !new RegExp(`(^|\\s)${f}(\\s|$)`, 'm').test(help));
}

/** Option groups ("--flag [values...]") keyed by flag. */
function groups(args: string[]): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = [];
  for (const a of args) {
    if (a.startsWith('-') || !out.length) out.push([a.split('=')[0]!, [a]]);
    else out[out.length - 1]![1].push(a);
  }
  return out;
}

/** A scenario's wsgate args plus the --wsgate-args ones; an option given in both takes the latter. */
export function mergeWsgateArgs(scenario: string[], global: string[]): string[] {
  const overridden = new Set(groups(global).map(([f]) => f));
  return [...groups(scenario).filter(([f]) => !overridden.has(f)).flatMap(([, g]) => g), ...global];
}

/** Processes serving sessions: the --workers value ("auto" = one per core), else 1. */
export function wsgateWorkers(args: string[]): number {
  let v: string | undefined;
  args.forEach((a, i) => {
    if (a === '--workers') v = args[i + 1];
    else if (a.startsWith('--workers=')) v = a.slice('--workers='.length);
  });
  if (v === undefined) return 1;
  return v === 'auto' ? os.availableParallelism() : Math.max(1, Number(v) || 1);
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
  /** Extra arguments it was started with (wsgate builds only). */
  args: string[];
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

export async function startGateway(spec: GatewaySpec, listenPort: number, target: string, extra: string[] = []): Promise<RunningGateway> {
  const [cmd, args] = spec.command(listenPort, target, extra);
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
      return { name: spec.name, pid: child.pid!, url: `ws://127.0.0.1:${listenPort}/`, args: isWsgate(spec.name) ? extra : [], stop };
    }
    await sleep(50);
  }
  const why = exited ?? 'did not listen within 10 s';
  await stop();
  throw new Error(`${spec.name} ${why}: ${tail.trim().split('\n').slice(-3).join(' | ')}`);
}
