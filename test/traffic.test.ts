// --traffic (and `traffic: true` in a config file): trace level, exactly one
// log line per client frame (the runtime's "message from client") and one per
// backend chunk (the relay's), with the real CLI over a tcp-proxy route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnCli, startBackend, connect, closed, tempDir } from './support/index.js';

type Backend = Awaited<ReturnType<typeof startBackend>>;
type Line = Record<string, unknown>;

const TRACE = 10; // pino's number for "trace"
const SIZES = [3, 1000, 70_000];

const dir = tempDir(after, 'traffic');
let backend: Backend;
before(async () => {
  backend = await startBackend((s) => s.pipe(s)); // echoes every byte
});
after(async () => {
  await backend.close();
});

/** Runs the CLI with `args`, sends SIZES through it and back, stops it, and returns its log lines. */
async function trafficLines(args: string[]): Promise<Line[]> {
  const cli = await spawnCli(args);
  try {
    const ws = await connect(`ws://127.0.0.1:${cli.port}/`, 'binary');
    let received = 0;
    const total = SIZES.reduce((a, b) => a + b, 0);
    const echoed = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        received += data.length;
        if (received === total) resolve();
      }),
    );
    for (const size of SIZES) ws.send(Buffer.alloc(size, 7));
    await echoed;
    ws.close(1000, 'done');
    await closed(ws);
    await new Promise<void>((resolve) => {
      const check = () => {
        if (!cli.output().includes('"msg":"session closed"')) return;
        cli.child.stdout!.removeListener('data', check);
        resolve();
      };
      cli.child.stdout!.on('data', check);
      check();
    });
    cli.child.kill('SIGTERM');
    const r = await cli.exited;
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
  } finally {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
}

function assertOneLinePerFrame(lines: Line[]): void {
  const sid = lines.find((l) => l.msg === 'session open')?.sid;
  assert.equal(typeof sid, 'string', 'no "session open" line');
  const trace = lines.filter((l) => l.level === TRACE);
  const fromClient = trace.filter((l) => l.msg === 'message from client');
  assert.deepEqual(
    fromClient.map((l) => [l.sid, l.bytes, l.binary]),
    SIZES.map((size) => [sid, size, true]),
    'one "message from client" line per client frame',
  );
  const fromBackend = trace.filter((l) => l.dir === 'backend>client');
  assert.ok(fromBackend.length >= 1, 'no line for the backend chunks');
  assert.equal(fromBackend.reduce((n, l) => n + (l.bytes as number), 0), SIZES.reduce((a, b) => a + b, 0), 'backend chunk lines count every byte');
  assert.equal(trace.length, fromClient.length + fromBackend.length, `other trace lines: ${JSON.stringify(trace.filter((l) => !fromClient.includes(l) && !fromBackend.includes(l)))}`);
}

test('--traffic: one trace line per client frame and one per backend chunk, no second line per frame', { timeout: 30_000 }, async () => {
  assertOneLinePerFrame(await trafficLines(['--traffic', '127.0.0.1:0', `127.0.0.1:${backend.port}`]));
});

test('traffic: true in the config file does what --traffic does', { timeout: 30_000 }, async () => {
  const file = join(dir, 'traffic.yaml');
  await writeFile(file, `listen: 127.0.0.1:0\ntraffic: true\nroutes:\n  - path: "*"\n    handler: tcp-proxy\n    target: 127.0.0.1:${backend.port}\n`);
  assertOneLinePerFrame(await trafficLines(['--config', file]));
});

test('without --traffic or traffic: true there are no per-frame lines', { timeout: 30_000 }, async () => {
  const lines = await trafficLines(['127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  assert.ok(lines.some((l) => l.msg === 'session closed'));
  assert.deepEqual(lines.filter((l) => l.level === TRACE), []);
});
