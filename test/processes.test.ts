// --workers N: several processes serve one port (node:cluster). Sessions
// land on every worker, the session limit and the health counts hold across
// them, SIGTERM drains every worker, and a worker that dies is replaced
// while only its own sessions end; /healthz, --sessions-path and
// --metrics-path answer for every worker.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { closed, connect, handshakeStatus, runCli, spawnCli, startBackend } from './support/index.js';
import { scrape, type Scrape } from './support/prometheus.js';

interface Health {
  status: string;
  sessions: number;
  sessionsTotal: number;
  workers?: Array<{ id: number; pid: number; sessions: number }>;
}

function health(port: number): Promise<Health> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(JSON.parse(body) as Health));
      })
      .on('error', reject);
  });
}

/** Polls an async condition every 20 ms; fails with `describe()` after timeoutMs. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** An echo backend, and wsgate in front of it with `args`; waits until every worker listens. */
async function startWorkers(t: TestContext, args: string[], workers: number) {
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const cli = await spawnCli(['--grace-period', '1', ...args, '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  });
  let h!: Health;
  await until(async () => (h = await health(cli.port)).workers?.length === workers, 10_000, () => `workers: ${JSON.stringify(h)}`);
  const url = `ws://127.0.0.1:${cli.port}/`;
  const pids = h.workers!.map((w) => w.pid);
  t.after(() => pids.forEach((pid) => alive(pid) && process.kill(pid, 'SIGKILL')));
  return { cli, url, port: cli.port, pids, backend };
}

async function echoes(ws: WebSocket, text: string): Promise<void> {
  const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  ws.send(Buffer.from(text));
  assert.equal(await reply, text);
}

test('--workers 2: 8 sessions opened at once split 4/4 over the processes, relay, and are counted by /healthz across them', { timeout: 30_000 }, async (t) => {
  const { url, port, pids } = await startWorkers(t, ['--workers', '2'], 2);
  assert.equal(new Set(pids).size, 2);
  assert.ok(!pids.includes(process.pid));
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(url, 'binary')));
  t.after(() => clients.forEach((c) => c.terminate()));
  await Promise.all(clients.map((c, i) => echoes(c, `hello ${i}`)));
  let h!: Health;
  await until(async () => (h = await health(port)).sessions === 8, 5000, () => JSON.stringify(h));
  assert.equal(h.workers!.length, 2);
  // Each connection goes to the worker with the fewest open ones: 8 at once split 4/4.
  assert.deepEqual(h.workers!.map((w) => w.sessions), [4, 4], JSON.stringify(h));
  assert.equal(h.workers!.reduce((a, w) => a + w.sessions, 0), 8);
  assert.ok(h.sessionsTotal >= 8);
});

test('--max-sessions 3 --workers 2: the limit holds across processes (503), and a slot frees when a session ends', { timeout: 30_000 }, async (t) => {
  const { url } = await startWorkers(t, ['--workers', '2', '--max-sessions', '3'], 2);
  const clients = await Promise.all(Array.from({ length: 3 }, () => connect(url, 'binary')));
  t.after(() => clients.forEach((c) => c.terminate()));
  for (let i = 0; i < 4; i++) assert.equal(await handshakeStatus(url, 'binary'), 503, `attempt ${i} beyond the limit`);
  const end = closed(clients[0]!);
  clients[0]!.close(1000);
  await end;
  let status = 0;
  await until(async () => (status = await handshakeStatus(url, 'binary')) === 101, 5000, () => `status ${status}`);
});

test('--workers 2: SIGTERM closes the sessions on every worker with 1001 after the grace period, and every process exits 0', { timeout: 30_000 }, async (t) => {
  const { cli, url, port, pids } = await startWorkers(t, ['--workers', '2'], 2);
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect(url, 'binary')));
  let h!: Health;
  await until(async () => (h = await health(port)).workers!.every((w) => w.sessions > 0), 5000, () => JSON.stringify(h));
  const ends = clients.map(closed);
  const t0 = Date.now();
  cli.child.kill('SIGTERM');
  const codes = await Promise.all(ends);
  assert.deepEqual(codes.map((c) => c.code), [1001, 1001, 1001, 1001]);
  assert.ok(Date.now() - t0 >= 900, 'sessions were closed before the grace period');
  const exit = await cli.exited;
  assert.equal(exit.code, 0, exit.stderr);
  await until(() => pids.every((pid) => !alive(pid)), 5000, () => 'a worker outlived the primary');
});

test('--workers 2: a worker killed with SIGKILL is replaced; only its sessions end, the others relay on', { timeout: 30_000 }, async (t) => {
  const { url, port, pids } = await startWorkers(t, ['--workers', '2'], 2);
  const clients = await Promise.all(Array.from({ length: 6 }, () => connect(url, 'binary')));
  t.after(() => clients.forEach((c) => c.terminate()));
  let h!: Health;
  await until(async () => (h = await health(port)).sessions === 6, 5000, () => JSON.stringify(h));
  const victim = h.workers![0]!;
  const lost = victim.sessions;
  assert.ok(lost > 0 && lost < 6);
  const states = clients.map((c) => {
    const s = { closed: false };
    c.once('close', () => (s.closed = true));
    return s;
  });
  process.kill(victim.pid, 'SIGKILL');
  await until(() => states.filter((s) => s.closed).length === lost, 5000, () => `${states.filter((s) => s.closed).length} closed, expected ${lost}`);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(states.filter((s) => s.closed).length, lost, 'sessions of the other worker ended too');
  await Promise.all(clients.filter((_, i) => !states[i]!.closed).map((c, i) => echoes(c, `still here ${i}`)));
  await until(async () => {
    h = await health(port);
    return h.workers!.length === 2 && !h.workers!.some((w) => w.pid === victim.pid);
  }, 10_000, () => `no replacement: ${JSON.stringify(h)}`);
  assert.ok(pids.includes(h.workers!.find((w) => w.id !== victim.id)!.pid));
  const fresh = await Promise.all(Array.from({ length: 4 }, () => connect(url, 'binary')));
  t.after(() => fresh.forEach((c) => c.terminate()));
  await Promise.all(fresh.map((c, i) => echoes(c, `new ${i}`)));
});

test('--workers 2 on a port already in use exits 1 and leaves no process behind', { timeout: 20_000 }, async (t) => {
  const taken = http.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const r = await runCli(['--workers', '2', `127.0.0.1:${port}`, '127.0.0.1:9'], 15_000);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  assert.match(r.stderr, /EADDRINUSE|in use/);
});

test('--workers 2 --cert: the workers speak TLS on connections the primary accepted', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-processes-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-days', '1'], { stdio: 'ignore' });
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const cli = await spawnCli(['--workers', '2', '--cert', cert, '--key', key, '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => cli.child.kill('SIGKILL'));
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect(`wss://127.0.0.1:${cli.port}/`, 'binary', { rejectUnauthorized: false })));
  t.after(() => clients.forEach((c) => c.terminate()));
  await Promise.all(clients.map((c, i) => echoes(c, `secure ${i}`)));
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited).code, 0);
});

test('workers and maxSessions in the config file: two processes, the limit across them', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-processes-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, ['listen: 127.0.0.1:0', 'workers: 2', 'maxSessions: 2', 'routes:', '  - path: /echo', '    handler: echo', ''].join('\n'));
  const cli = await spawnCli(['--config', file]);
  t.after(() => cli.child.kill('SIGKILL'));
  let h!: Health;
  await until(async () => (h = await health(cli.port)).workers?.length === 2, 10_000, () => JSON.stringify(h));
  const url = `ws://127.0.0.1:${cli.port}/echo`;
  const clients = await Promise.all([connect(url), connect(url)]);
  t.after(() => clients.forEach((c) => c.terminate()));
  assert.equal(await handshakeStatus(url), 503);
  await until(async () => (h = await health(cli.port)).workers!.every((w) => w.sessions === 1), 5000, () => JSON.stringify(h));
});

interface Listed {
  sessions: Array<{ id: string; pid: number; worker?: number; route: string; path: string; remote: string; target: string; bytesIn: number; messagesIn: number }>;
}

function getJson<T>(port: number, path: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: (res.headers['content-type']?.startsWith('application/json') ? JSON.parse(body) : body) as T }));
      })
      .on('error', reject);
  });
}

test('--sessions-path lists the live sessions of every worker (to a loopback client)', { timeout: 30_000 }, async (t) => {
  const { url, port, pids, backend } = await startWorkers(t, ['--workers', '2', '--sessions-path', '/sessions'], 2);
  const clients = await Promise.all(Array.from({ length: 6 }, () => connect(`${url}desk?token=secret-value`, 'binary')));
  t.after(() => clients.forEach((c) => c.terminate()));
  await Promise.all(clients.map((c, i) => echoes(c, `list ${i}`)));
  let listed!: Listed;
  await until(async () => (listed = (await getJson<Listed>(port, '/sessions')).body).sessions.length === 6, 5000, () => JSON.stringify(listed));
  assert.deepEqual(new Set(listed.sessions.map((s) => s.pid)), new Set(pids));
  assert.deepEqual(new Set(listed.sessions.map((s) => s.worker)), new Set([1, 2]));
  for (const s of listed.sessions) {
    assert.equal(s.path, '/desk', 'the path, never the query (it may hold a token)');
    assert.equal(s.remote, '127.0.0.1');
    assert.equal(s.target, `127.0.0.1:${backend.port}`);
    assert.ok(s.messagesIn >= 1 && s.bytesIn >= 6, JSON.stringify(s));
  }
  assert.ok(!JSON.stringify(listed).includes('secret-value'));
  assert.equal(new Set(listed.sessions.map((s) => s.id)).size, 6);
});

test('--metrics-path under --workers 2: one answer sums every worker (and the primary); a replaced worker is counted', { timeout: 30_000 }, async (t) => {
  const { url, port } = await startWorkers(t, ['--workers', '2', '--metrics-path', '/metrics'], 2);
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect(url, 'binary')));
  t.after(() => clients.forEach((c) => c.terminate()));
  await Promise.all(clients.map((c, i) => echoes(c, `metrics ${i}`))); // 9 bytes each
  let h!: Health;
  await until(async () => (h = await health(port)).sessions === 4, 5000, () => JSON.stringify(h));
  assert.deepEqual(h.workers!.map((w) => w.sessions), [2, 2], 'both workers hold sessions, so the sum below needs both');
  const s = await scrape(port);
  assert.equal(s.status, 200);
  assert.equal(s.value('wsgate_sessions', 'route="*"'), 4);
  assert.equal(s.value('wsgate_sessions_opened_total', 'route="*"'), 4);
  assert.equal(s.value('wsgate_bytes_total', 'route="*",direction="in"'), 36);
  assert.equal(s.value('wsgate_workers'), 2, "the primary's own metrics are merged in");
  assert.equal(s.value('wsgate_worker_restarts_total'), 0);
  process.kill(h.workers![0]!.pid, 'SIGKILL');
  let after: Scrape | null = null;
  // A scrape handed to the dying worker before the primary saw it die is reset: ask again.
  const scrapeOrNull = () => scrape(port).catch(() => null);
  await until(
    async () => {
      const s = await scrapeOrNull();
      if (!s) return false;
      after = s;
      return s.value('wsgate_worker_restarts_total') === 1 && s.value('wsgate_workers') === 2 && s.value('wsgate_sessions', 'route="*"') === 2;
    },
    10_000,
    () => (after?.text ?? 'no scrape answered').split('\n').filter((l) => l.startsWith('wsgate_')).join('\n'),
  );
  // The dead worker's counters stay in the sums (a sum that fell would read as a counter reset).
  assert.equal(after!.value('wsgate_sessions_opened_total', 'route="*"'), 4);
  assert.equal(after!.value('wsgate_bytes_total', 'route="*",direction="in"'), 36);
  assert.equal(after!.value('process_max_fds'), s.value('process_max_fds'), 'the per-process limit, not a sum');
});
