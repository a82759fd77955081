// The real wsgate command as a child process: usage, config errors with
// FILE:LINE, exit codes, graceful stop, websockify lifetime options, logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OPTIONS } from '../src/cli/options.js';
import { REPO_ROOT, runCli, spawnCli, startBackend, connect, closed, handshakeStatus, rawRequest, tempDir, upgradeRequest } from './support/index.js';

type Cli = Awaited<ReturnType<typeof spawnCli>>;
type Backend = Awaited<ReturnType<typeof startBackend>>;

const dir = tempDir(after, 'cli');
let backend: Backend;
before(async () => {
  backend = await startBackend((s) => s.pipe(s)); // echoes every byte
});
after(async () => {
  await backend.close();
});

let n = 0;
async function configFile(text: string): Promise<string> {
  const path = join(dir, `cli-${++n}.yaml`);
  await writeFile(path, text);
  return path;
}

/** Resolves once the CLI's stdout matches `re`. */
function waitForOutput(cli: Cli, re: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!re.test(cli.output())) return;
      cli.child.stdout!.removeListener('data', check);
      resolve();
    };
    cli.child.stdout!.on('data', check);
    check();
  });
}

/** Runs `fn` with a CLI started with `args`; the child is killed afterwards if it is still running. */
async function withCli(args: string[], fn: (cli: Cli) => Promise<void>): Promise<void> {
  const cli = await spawnCli(args);
  try {
    await fn(cli);
  } finally {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
}

async function assertUsageError(args: string[], stderr: RegExp | string): Promise<void> {
  const r = await runCli(args);
  assert.equal(r.code, 2, `wsgate ${args.join(' ')}: exit ${r.code}, stderr: ${r.stderr}`);
  if (typeof stderr === 'string') assert.ok(r.stderr.includes(stderr), `expected ${JSON.stringify(stderr)} in: ${r.stderr}`);
  else assert.match(r.stderr, stderr);
  assert.doesNotMatch(r.stdout, /"msg":"listening"/);
}

const target = () => `127.0.0.1:${backend.port}`;

test('--help exits 0 and lists every supported option', { timeout: 15_000 }, async () => {
  for (const flag of ['--help', '-h']) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /wsgate \[options\] \[listen_host:\]listen_port target_host:target_port/);
    for (const o of OPTIONS.filter((o) => !o.unsupported)) {
      assert.match(r.stdout, new RegExp(`--${o.name}\\b`), `--${o.name} missing from --help`);
      if (o.short) assert.ok(r.stdout.includes(`-${o.short}, --${o.name}`), `-${o.short} missing from --help`);
    }
  }
});

test('--version prints the package.json version', { timeout: 10_000 }, async () => {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `wsgate ${version}\n`);
});

test('bad command lines exit 2 with a reason on stderr', { timeout: 30_000 }, async () => {
  await Promise.all([
    assertUsageError([], /expected \[listen_host:\]listen_port target_host:target_port/),
    assertUsageError(['8080'], /expected \[listen_host:\]listen_port target_host:target_port/),
    assertUsageError(['--no-such-option', '127.0.0.1:0', target()], /no-such-option/),
    assertUsageError(['127.0.0.1:70000', target()], /\[listen_host:\]listen_port.*out of range/),
    assertUsageError(['127.0.0.1:0', '127.0.0.1:99999'], /target_host:target_port.*out of range/),
    assertUsageError(['--web', join(dir, 'no-such-dir'), '127.0.0.1:0', target()], `--web: web: ${join(dir, 'no-such-dir')} is not a directory`),
    assertUsageError(['--web', dir, '--novnc', '127.0.0.1:0', target()], 'give either --web DIR or --novnc, not both'),
    assertUsageError(['--web', dir, '--novnc-app', 'builtin', '127.0.0.1:0', target()], 'give either --web DIR or --novnc, not both'),
    assertUsageError(['--novnc-app', join(dir, 'no-such-dir'), '127.0.0.1:0', target()], `--novnc-app: web.novnc: ${join(dir, 'no-such-dir')} is not a directory`),
    assertUsageError(['--grace-period', 'soon', '127.0.0.1:0', target()], /--grace-period.*not a number/),
  ]);
});

test('--config with a bad file: exit 2 naming FILE:LINE', { timeout: 20_000 }, async () => {
  const yaml = await configFile('listen: 127.0.0.1:0\nroutes:\n  - path: /a\n    handler: echo\n    handler: threads\n');
  await assertUsageError(['--config', yaml], `${yaml}:5: invalid YAML`);
  const schema = await configFile('listen: 127.0.0.1:0\nroutes:\n  - path: /a\n    handler: echo\n    maxMessageSize: lots\n');
  await assertUsageError(['--config', schema], `${schema}:5: routes[0].maxMessageSize`);
  await assertUsageError(['--config', join(dir, 'missing.yaml')], `${join(dir, 'missing.yaml')}: cannot read`);
  await assertUsageError(['--config', schema, '127.0.0.1:0'], /drop the positional arguments/);
});

test('--config: a typo in a tcp-proxy field is named with its line', { timeout: 10_000 }, async () => {
  const path = await configFile(`listen: 127.0.0.1:0
routes:
  - path: /vnc
    handler: tcp-proxy
    taget: ${target()}
`);
  await assertUsageError(['--config', path], `${path}:5: routes[0].taget: unknown field`);
});

test('--config: tcp-proxy without target, unknown handler, missing plugin: exit 2', { timeout: 20_000 }, async () => {
  const route = (handler: string) => `listen: 127.0.0.1:0\nroutes:\n  - path: /p\n    handler: ${handler}\n`;
  const [noTarget, unknown, plugin] = await Promise.all([configFile(route('tcp-proxy')), configFile(route('vnc-proxy')), configFile(route('./no-such-plugin.js'))]);
  await Promise.all([
    assertUsageError(['--config', noTarget], `${noTarget}:3: routes[0].target: is required`),
    assertUsageError(['--config', unknown], `${unknown}:4: routes[0].handler: unknown handler "vnc-proxy"`),
    assertUsageError(['--config', plugin], `${plugin}:4: routes[0].handler: cannot load plugin ./no-such-plugin.js`),
  ]);
});

test('--workers with --run-once is refused (exit 2): run-once needs one process', async () => {
  const r = await runCli(['--workers', '2', '--run-once', '127.0.0.1:0', '127.0.0.1:9']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /single process/);
  const bad = await runCli(['--workers', 'many', '127.0.0.1:0', '127.0.0.1:9']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--workers/);
  // With --config the override is checked by the same schema as the file's own field.
  const file = await configFile('listen: 127.0.0.1:0\nroutes:\n  - path: /e\n    handler: echo\n');
  for (const [args, why] of [[['--workers', '300'], /--workers: workers: must be <= 256/], [['--max-sessions', '0'], /--max-sessions: maxSessions: must be >= 1/]] as const) {
    const r = await runCli(['--config', file, ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, why);
  }
});

test('a listen port already in use: exit 1', { timeout: 10_000 }, async () => {
  const r = await runCli([`127.0.0.1:${backend.port}`, target()]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot start.*EADDRINUSE/);
});

test('SIGTERM: new sessions refused, open ones closed 1001 after the grace period, exit 0', { timeout: 20_000 }, async () => {
  await withCli(['--grace-period', '1', '127.0.0.1:0', target()], async (cli) => {
    const url = `ws://127.0.0.1:${cli.port}/`;
    const ws = await connect(url);
    ws.send('ping');
    await new Promise((resolve) => ws.once('message', resolve));
    const wsClosed = closed(ws).then((info) => ({ ...info, at: Date.now() }));
    const t0 = Date.now();
    cli.child.kill('SIGTERM');
    await waitForOutput(cli, /"msg":"stopping"/);
    const late = await handshakeStatus(url).catch((e: NodeJS.ErrnoException) => e.code);
    // Refused at the TCP level (nothing listens, or the kernel resets a connection queued as the
    // listener closed) or with 503 by the stopping gateway: never accepted.
    assert.ok(late === 'ECONNREFUSED' || late === 'ECONNRESET' || late === 503, `a new session during the grace period got ${late}`);
    const info = await wsClosed;
    assert.equal(info.code, 1001);
    const after = info.at - t0;
    assert.ok(after >= 800 && after < 4000, `closed ${after} ms after SIGTERM, grace period 1 s`);
    const r = await cli.exited;
    assert.equal(r.code, 0, r.stderr);
  });
});

test('SIGTERM: a session that ends during the grace period lets the process exit early', { timeout: 20_000 }, async () => {
  await withCli(['--grace-period', '5', '127.0.0.1:0', target()], async (cli) => {
    const ws = await connect(`ws://127.0.0.1:${cli.port}/`);
    const t0 = Date.now();
    cli.child.kill('SIGTERM');
    await waitForOutput(cli, /"msg":"stopping"/);
    assert.equal(cli.child.exitCode, null, 'still running while a session is open');
    ws.close(1000, 'done');
    assert.equal((await closed(ws)).code, 1000);
    const r = await cli.exited;
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(took < 3500, `exited ${took} ms after SIGTERM; the grace period was 5 s but no session was left`);
  });
});

test('--run-once: exit 0 after the first session ends', { timeout: 20_000 }, async () => {
  await withCli(['--run-once', '127.0.0.1:0', target()], async (cli) => {
    const ws = await connect(`ws://127.0.0.1:${cli.port}/`);
    ws.send(Buffer.from('x'));
    await new Promise((resolve) => ws.once('message', resolve));
    assert.equal(cli.child.exitCode, null, 'still running while the session is open');
    ws.close();
    await closed(ws);
    const r = await cli.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /run-once/);
  });
});

test('--idle-timeout 1: with no session, exit 0 after about 1 s', { timeout: 20_000 }, async () => {
  await withCli(['--idle-timeout', '1', '127.0.0.1:0', target()], async (cli) => {
    const t0 = Date.now();
    const r = await cli.exited;
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(took >= 700 && took < 4000, `exited ${took} ms after listening`);
  });
});

test('--idle-timeout 1: an open session keeps the process; it exits about 1 s after the last one', { timeout: 20_000 }, async () => {
  await withCli(['--idle-timeout', '1', '127.0.0.1:0', target()], async (cli) => {
    const ws = await connect(`ws://127.0.0.1:${cli.port}/`);
    await sleep(1500); // nothing should happen: there is no event to wait for
    assert.equal(cli.child.exitCode, null, 'exited although a session was open');
    ws.close();
    await closed(ws);
    const t0 = Date.now();
    const r = await cli.exited;
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(took >= 700 && took < 4000, `exited ${took} ms after the session ended`);
  });
});

test('session log lines carry the session facts; a token in the query is never logged', { timeout: 20_000 }, async () => {
  await withCli(['--traffic', '127.0.0.1:0', target()], async (cli) => {
    const ws = await connect(`ws://127.0.0.1:${cli.port}/?token=SECRET123`);
    ws.send(Buffer.from('abc'));
    await new Promise((resolve) => ws.once('message', resolve));
    ws.close(1000, 'bye');
    await closed(ws);
    // Refusals and plain requests that carry the token.
    assert.match(await rawRequest(cli.port, upgradeRequest('/?token=SECRET123', [], { 'Sec-WebSocket-Version': '7' })), /^HTTP\/1.1 426 /);
    assert.match(await rawRequest(cli.port, 'GET /?token=SECRET123 HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1.1 426 /);
    assert.match(await rawRequest(cli.port, 'GET /?token=SECRET123 HTTP/1.1\r\nbad header line\r\n\r\n'), /^HTTP\/1.1 400 /);
    await waitForOutput(cli, /"msg":"session closed"/);
    cli.child.kill('SIGTERM');
    const r = await cli.exited;
    assert.equal(r.code, 0, r.stderr);

    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const open = lines.find((l) => l.msg === 'session open');
    const done = lines.find((l) => l.msg === 'session closed');
    assert.ok(open && done, r.stdout);
    assert.equal(typeof open.sid, 'string');
    assert.ok((open.sid as string).length > 0);
    const common = { sid: open.sid, remote: '127.0.0.1', route: '*', target: target() };
    for (const [k, v] of Object.entries(common)) {
      assert.equal(open[k], v, `session open: ${k}`);
      assert.equal(done[k], v, `session closed: ${k}`);
    }
    assert.equal(done.bytesIn, 3);
    assert.equal(done.bytesOut, 3);
    assert.equal(done.code, 1000);
    assert.equal(done.reason, 'bye');
    assert.equal(typeof done.durationMs, 'number');
    assert.ok((done.durationMs as number) >= 0);
    assert.ok(lines.some((l) => l.msg === 'handshake refused' && l.status === 426), 'the refusal is logged');

    const all = r.stdout + r.stderr;
    assert.ok(!all.includes('SECRET123'), 'the token appears in the output');
    assert.ok(!all.includes('token='), 'the query appears in the output');
  });
});
