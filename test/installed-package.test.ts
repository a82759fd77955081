// wsgate as a user's project gets it: `npm pack` of this repository (the
// files list, the exports map, the bin), unpacked into a fresh project's
// node_modules/wsgate as npm does, its bin linked into node_modules/.bin.
// The project's plugin imports `wsgate` and `wsgate/worker` by name and runs
// under the installed CLI; the examples type-check against the installed
// declarations, as a TypeScript plugin would. Only the dependencies are not
// fetched: the ones the packed package.json declares are linked from this
// repository's node_modules, so the test needs no network and takes seconds,
// and a package the code uses but the package.json does not declare is missing.
// Runs after `npm run build`; `--ignore-scripts` keeps `npm pack` from building again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, closed, connect, handshakeStatus, tempDir } from './support/index.js';

const run = promisify(execFile);
/** No step of the set-up or of a test may take longer than this. */
const STEP_MS = 30_000;

const PLUGIN = `
import { accept, refuse, SessionClosedError } from 'wsgate';
import { WorkerPool } from 'wsgate/worker';

export default function createShout(ctx) {
  const { prefix = '' } = ctx.options({ properties: { prefix: { type: 'string' } } });
  const pool = new WorkerPool(new URL('./shout-worker.js', import.meta.url), { size: 1, log: ctx.log });
  return {
    connect: (c) => (c.url.searchParams.get('deny') === '1' ? refuse(403, 'deny=1') : accept(null)),
    message(_state, session, data) {
      pool.run(session, { text: prefix + data.toString('utf8') }).catch((err) => {
        if (!(err instanceof SessionClosedError)) ctx.log.error({ err }, 'shout failed');
      });
    },
    shutdown: () => pool.close(),
  };
}
`;

const WORKER = `
import { serveTasks } from 'wsgate/worker';

serveTasks(async (session, { text }) => {
  await session.send(text.toUpperCase());
});
`;

/** Prints what a project can import, and what a deep import into dist/ gets. */
const PROBE = `
const main = await import('wsgate');
const worker = await import('wsgate/worker');
let deep;
try {
  await import('wsgate/dist/src/handlers/types.js');
  deep = 'imported';
} catch (e) {
  deep = e.code;
}
console.log(JSON.stringify({ main: Object.keys(main).sort(), worker: Object.keys(worker).sort(), deep }));
`;

/** Strict, and checking the package's declarations too (no skipLibCheck). */
const TSCONFIG = { compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'] }, include: ['*.ts'] };

const CONFIG = `
listen: 127.0.0.1:0
routes:
  - path: /shout
    handler: ./shout-plugin.js
    prefix: "> "
`;

interface Packed {
  filename: string;
  files: Array<{ path: string }>;
}

let packed: Packed;
let cli: ChildProcess | null = null;

after(() => {
  if (cli && cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
});

// Registered after the teardown above: node:test runs `after` hooks in order, so the
// project goes once the CLI running from it is stopped.
const project = tempDir(after, 'project');

before(async () => {
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], { cwd: REPO_ROOT, timeout: STEP_MS });
  [packed] = JSON.parse(stdout) as [Packed];
  const tarball = join(project, packed.filename);

  const installed = join(project, 'node_modules/wsgate');
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], { timeout: STEP_MS });
  const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; bin: Record<string, string> };
  for (const name of Object.keys(manifest.dependencies)) {
    const link = join(project, 'node_modules', name);
    await mkdir(dirname(link), { recursive: true });
    await symlink(join(REPO_ROOT, 'node_modules', name), link, 'dir');
  }
  // The project's own dev dependency, for the type check.
  await symlink(join(REPO_ROOT, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'), 'dir');
  await mkdir(join(project, 'node_modules/.bin'));
  await symlink(join('../wsgate', manifest.bin.wsgate!), join(project, 'node_modules/.bin/wsgate'));

  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'my-gateway', private: true, type: 'module' }));
  await writeFile(join(project, 'shout-plugin.js'), PLUGIN);
  await writeFile(join(project, 'shout-worker.js'), WORKER);
  await writeFile(join(project, 'probe.js'), PROBE);
  await writeFile(join(project, 'wsgate.yaml'), CONFIG);
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  for (const file of await readdir(join(REPO_ROOT, 'examples'))) {
    if (file.endsWith('.ts')) await copyFile(join(REPO_ROOT, 'examples', file), join(project, file));
  }
}, { timeout: 2 * STEP_MS });

/** The installed bin, run as a shell would (through its #! line), with this node first on PATH. */
function wsgate(args: string[]): ChildProcess {
  return spawn(join(project, 'node_modules/.bin/wsgate'), args, {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
    timeout: STEP_MS,
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The port of the CLI's "listening" log line (pino writes one JSON object a line). */
function listeningPort(child: ChildProcess, done: Promise<{ code: number | null; stderr: string }>): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      for (const line of out.split('\n').slice(0, -1)) {
        let entry: { msg?: string; address?: { port?: number } } = {};
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          // not a log line
        }
        if (entry.msg === 'listening' && entry.address?.port) resolve(entry.address.port);
      }
    });
    void done.then((r) => reject(new Error(`wsgate exited (${r.code}) before listening: ${r.stderr}${out}`)));
  });
}

test('the package ships the entry points, the bin and the noVNC client, and none of the tests, examples or benchmarks', () => {
  const paths = new Set(packed.files.map((f) => f.path));
  for (const p of ['package.json', 'bin/wsgate.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/worker/index.js', 'dist/src/worker/index.d.ts',
    'dist/src/server/novnc-app/vnc.html', 'dist/src/server/novnc-app/vnc_lite.html', 'dist/src/server/novnc-app/client/vnc.js', 'dist/src/server/novnc-app/client/connection.js']) {
    assert.ok(paths.has(p), `${p} is in the package`);
  }
  const extra = [...paths].filter((p) => /^(dist\/(test|examples|bench)|src|test|examples|bench)\//.test(p));
  assert.deepEqual(extra, []);
});

test('the installed bin prints the package version', { timeout: STEP_MS }, async () => {
  const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await exited(wsgate(['--version']));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `wsgate ${version}\n`);
});

test('a project imports wsgate and wsgate/worker by name, and nothing under dist/', { timeout: STEP_MS }, async () => {
  const { stdout } = await run(process.execPath, ['probe.js'], { cwd: project, timeout: STEP_MS });
  const probe = JSON.parse(stdout) as { main: string[]; worker: string[]; deep: string };
  assert.deepEqual(probe.main, ['SessionClosedError', 'accept', 'refuse']);
  for (const name of ['WorkerPool', 'WorkerFailure', 'serveTasks', 'openWorkerChannel', 'connectSession', 'SessionClosedError']) {
    assert.ok(probe.worker.includes(name), `wsgate/worker exports ${name}`);
  }
  assert.equal(probe.deep, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
});

test('the installed CLI runs a plugin of the project that sends from a worker thread', { timeout: 2 * STEP_MS }, async () => {
  cli = wsgate(['--config', 'wsgate.yaml', '--grace-period', '0']);
  const done = exited(cli);
  const port = await listeningPort(cli, done);

  assert.equal(await handshakeStatus(`ws://127.0.0.1:${port}/shout?deny=1`), 403);
  const ws = await connect(`ws://127.0.0.1:${port}/shout`);
  for (const text of ['hello', 'from the worker']) {
    const reply = new Promise<[string, boolean]>((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve([data.toString(), isBinary])));
    ws.send(text);
    assert.deepEqual(await reply, [`> ${text.toUpperCase()}`, false]);
  }
  ws.close(1000);
  assert.equal((await closed(ws)).code, 1000);

  cli.kill('SIGTERM');
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('the examples type-check against the installed package, as a TypeScript plugin would', { timeout: 2 * STEP_MS }, async () => {
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const r = await exited(spawn(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, timeout: 2 * STEP_MS }));
  assert.equal(r.stdout, '');
  assert.equal(r.code, 0, r.stderr);
});
