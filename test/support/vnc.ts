// A real VNC desktop for browser tests: TigerVNC's Xvnc on a free display
// and loopback port, with VNC password auth, a solid root colour and an
// xterm that writes what is typed into a file. Every process runs in its own
// process group, so stop() also ends anything they started.
import net from 'node:net';
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { until } from './until.js';

export interface VncDesktop {
  display: string;
  port: number;
  /** The file the xterm writes typed lines into. */
  typedFile: string;
  /** Runs an X client (xdotool, xsetroot, ...) on this display; resolves with its stdout. */
  x(cmd: string, args: string[]): Promise<string>;
  /** Ends Xvnc and the xterm, then starts them again on the same display and port (the typed file starts empty). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a command in its own process group; output is kept for error messages. */
export function spawnGroup(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess & { output: () => string } {
  const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  child.on('error', (err) => (out += `\nspawn failed: ${err.message}`));
  return Object.assign(child, { output: () => out });
}

/** Ends a process group started by spawnGroup: SIGTERM, then SIGKILL if it lingers. */
export async function killGroup(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.pid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* the group is gone */
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  signal('SIGKILL'); // anything left in the group (e.g. the xterm's shell)
}

function runX(display: string, cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { env: { ...process.env, DISPLAY: display }, timeout: 5000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout),
    ),
  );
}

/** A display number with no X server (no socket, no lock file), starting somewhere random to avoid parallel runs. */
function freeDisplay(): number {
  const start = 20 + Math.floor(Math.random() * 70);
  for (let i = 0; i < 70; i++) {
    const n = 20 + ((start - 20 + i) % 70);
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return n;
  }
  throw new Error('no free X display number between :20 and :89');
}

export async function startVncDesktop(opts: { dir: string; password: string; rootColour: string; geometry?: string }): Promise<VncDesktop> {
  const passwordFile = join(opts.dir, 'vncpasswd');
  await writeFile(passwordFile, execFileSync('vncpasswd', ['-f'], { input: `${opts.password}\n` }), { mode: 0o600 });
  const xvncArgs = (display: string, port: number) => [display, '-rfbport', String(port), '-localhost', '-SecurityTypes', 'VncAuth', '-PasswordFile', passwordFile,
    '-UseBlacklist=0', '-geometry', opts.geometry ?? '800x600', '-depth', '24', '-desktop', 'wsgate-e2e', '-nolisten', 'tcp'];
  let xvnc: ReturnType<typeof spawnGroup> | null = null;
  let display = '';
  let port = 0;
  // A display or port taken between our check and Xvnc's start makes Xvnc exit: try another.
  for (let attempt = 0; attempt < 5 && !xvnc; attempt++) {
    display = `:${freeDisplay()}`;
    port = await freePort();
    xvnc = await startXvnc(display, xvncArgs(display, port));
  }
  if (!xvnc) throw new Error('Xvnc failed to start five times');
  const x = (cmd: string, args: string[]) => runX(display, cmd, args);
  const typedFile = join(opts.dir, 'typed.txt');
  let xterm: ReturnType<typeof spawnGroup> | null = null;
  const stop = async () => {
    if (xterm) await killGroup(xterm);
    xterm = null;
    if (xvnc) await killGroup(xvnc);
    xvnc = null;
  };
  // The root colour and the xterm, on a fresh server.
  const populate = async () => {
    try {
      await until(() => x('xsetroot', ['-solid', opts.rootColour]).then(() => true, () => false), { timeoutMs: 5000, everyMs: 50, what: 'xsetroot succeeding' });
      // Top-left, small: the rest of the screen shows the root colour.
      const term = spawnGroup('xterm', ['-geometry', '40x6+0+0', '-e', 'sh', '-c', 'exec cat > "$0"', typedFile], { ...process.env, DISPLAY: display });
      xterm = term;
      await until(
        async () => existsSync(typedFile) && (await x('xdotool', ['search', '--onlyvisible', '--class', 'xterm']).catch(() => '')).trim() !== '',
        { timeoutMs: 10_000, everyMs: 50, what: () => `xterm did not appear: ${term.output()}` },
      );
    } catch (e) {
      await stop();
      throw e;
    }
  };
  await populate();
  const restart = async () => {
    await stop();
    await rm(typedFile, { force: true });
    xvnc = await startXvnc(display, xvncArgs(display, port));
    if (!xvnc) throw new Error(`Xvnc did not start again on ${display}, port ${port}`);
    await populate();
  };
  return { display, port, typedFile, x, stop, restart };
}

/** Starts Xvnc and waits until it listens and has its X socket; null if it exited instead. */
async function startXvnc(display: string, args: string[]): Promise<ReturnType<typeof spawnGroup> | null> {
  const child = spawnGroup('Xvnc', args);
  const ready = await until(
    () => (/Listening for VNC connections.*port \d+/.test(child.output()) && existsSync(`/tmp/.X11-unix/X${display.slice(1)}`)) || child.exitCode !== null || child.signalCode !== null,
    { timeoutMs: 10_000, everyMs: 50, what: () => `Xvnc did not start: ${child.output()}` },
  ).then(() => child.exitCode === null && child.signalCode === null);
  return ready ? child : null;
}

/** What the xterm has written so far. */
export function typedText(desktop: VncDesktop): Promise<string> {
  return readFile(desktop.typedFile, 'utf8');
}
