// End to end without a browser: WebSocket client -> gateway (a SQLite lookup
// gives connecthost/connectport of the cluster proxy and nodehost/nodeport of
// the node) -> the real `wsgate cluster-proxy` CLI -> node. 64 MiB each way,
// byte-exact by sha256, in version 1 and version 2, and 100 sessions at once
// per version.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { byteStream, closed, drained, hashSink, seededSizes, sessionsDrained, spawnCli, startBackend, startGateway, pseudoRandom } from './support/index.js';
import { echoNode, vncDatabase, workdir } from './support/cluster.js';

const MiB = 1024 * 1024;
const BULK = 64 * MiB;

/** A node that sends BULK bytes (seeded) while hashing what it receives, then ends. */
async function streamNode(t: TestContext, seed: number): Promise<{ port: number; result: Promise<{ sent: string; received: string; bytes: number }> }> {
  let settle!: (r: { sent: string; received: string; bytes: number }) => void;
  const result = new Promise<{ sent: string; received: string; bytes: number }>((resolve) => (settle = resolve));
  const node = await startBackend((socket) => {
    const out = byteStream(seed, BULK);
    const sink = hashSink();
    const size = seededSizes(seed + 1);
    const received = new Promise<void>((resolve) => socket.on('data', (c: Buffer) => (sink.add(c), sink.bytes >= BULK && resolve())));
    const sent = (async () => {
      while (out.remaining > 0) if (!socket.write(out.take(size()))) await drained(socket);
    })();
    void Promise.all([sent, received]).then(() => {
      socket.end();
      settle({ sent: out.digest(), received: sink.digest(), bytes: sink.bytes });
    });
  });
  t.after(() => node.close());
  return { port: node.port, result };
}

/** Sends BULK bytes in random-sized binary messages while hashing what comes back; resolves at the close. */
async function bulkClient(url: string, seed: number): Promise<{ sent: string; received: string; bytes: number; code: number }> {
  const ws = new WebSocket(url);
  const sink = hashSink();
  ws.on('message', (data: Buffer) => sink.add(data));
  const end = closed(ws);
  await once(ws, 'open');
  const out = byteStream(seed, BULK);
  const size = seededSizes(seed + 2);
  while (out.remaining > 0) {
    const chunk = out.take(size());
    if (ws.bufferedAmount < 4 * MiB) ws.send(chunk);
    else await new Promise<void>((resolve, reject) => ws.send(chunk, (err) => (err ? reject(err) : resolve())));
  }
  const { code } = await end;
  return { sent: out.digest(), received: sink.digest(), bytes: sink.bytes, code };
}

async function setup(t: TestContext) {
  const { dir, secretFile } = workdir(t);
  const echo = await echoNode(t);
  const bulk1 = await streamNode(t, 101);
  const bulk2 = await streamNode(t, 202);
  const nodes = [echo.port, bulk1.port, bulk2.port].map((p) => `127.0.0.1:${p}`);
  const cli = await spawnCli(['cluster-proxy', '--listen', '127.0.0.1:0', '--secret-file', secretFile, '--versions', '1,2', ...nodes.flatMap((n) => ['--allow', n]), '--log-level', 'info']);
  t.after(() => cli.child.kill('SIGKILL'));
  const resolver = vncDatabase(dir, [
    { key: 'echo', nodehost: '127.0.0.1', nodeport: echo.port, connecthost: '127.0.0.1', connectport: cli.port },
    { key: 'bulk1', nodehost: '127.0.0.1', nodeport: bulk1.port, connecthost: '127.0.0.1', connectport: cli.port },
    { key: 'bulk2', nodehost: '127.0.0.1', nodeport: bulk2.port, connecthost: '127.0.0.1', connectport: cli.port },
  ]);
  const gw = await startGateway({
    routes: [1, 2].map((version) => ({ path: `/v${version}`, handler: 'tcp-proxy', resolver, allow: [`127.0.0.1:${cli.port}`], clusterHandoff: { version, secretFile } })),
  });
  t.after(() => gw.stop());
  return { gw, cli, bulk: { 1: bulk1, 2: bulk2 } };
}

test('end to end through wsgate cluster-proxy: 64 MiB each way byte-exact (v1, v2), then 100 sessions at once per version', { timeout: 60_000 }, async (t) => {
  const started = Date.now();
  const { gw, cli, bulk } = await setup(t);
  for (const version of [1, 2] as const) {
    const [client, node] = await Promise.all([bulkClient(gw.url(`/v${version}?key=bulk${version}`), version * 7), bulk[version].result]);
    assert.equal(node.bytes, BULK, `v${version}: client -> node byte count`);
    assert.equal(node.received, client.sent, `v${version}: client -> node sha256`);
    assert.equal(client.bytes, BULK, `v${version}: node -> client byte count`);
    assert.equal(client.received, node.sent, `v${version}: node -> client sha256`);
    assert.equal(client.code, 1000, 'the node ended: close 1000');
  }
  await sessionsDrained(gw.gateway);

  // 100 sessions per version, all open at the same time, each echoing its own bytes.
  const PER_VERSION = 100;
  let echoed = 0;
  let release!: () => void;
  const allEchoed = new Promise<void>((resolve) => (release = resolve));
  const session = async (version: number, i: number) => {
    const payload = pseudoRandom(16 * 1024 + i, version * 1000 + i);
    const ws = new WebSocket(gw.url(`/v${version}?key=echo`));
    const got: Buffer[] = [];
    let size = 0;
    const complete = new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        got.push(d);
        size += d.length;
        if (size >= payload.length) resolve();
      }),
    );
    await once(ws, 'open');
    ws.send(payload);
    await complete;
    assert.ok(Buffer.concat(got).equals(payload), `v${version} session ${i}: echo exact`);
    if (++echoed === 2 * PER_VERSION) release();
    await allEchoed;
    ws.close();
    await closed(ws);
  };
  const all = Promise.all([1, 2].flatMap((v) => Array.from({ length: PER_VERSION }, (_, i) => session(v, i))));
  await allEchoed;
  assert.equal(gw.gateway.registry.size, 2 * PER_VERSION, 'every session open at once');
  await all;
  await sessionsDrained(gw.gateway);

  cli.child.kill('SIGTERM');
  const exit = await cli.exited;
  assert.equal(exit.code, 0);
  const lines = exit.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string; toNode?: number; fromNode?: number });
  assert.deepEqual(lines.filter((l) => l.level >= 40), [], 'no warnings from the cluster proxy');
  assert.equal(lines.filter((l) => l.msg === 'connection open').length, 2 + 2 * PER_VERSION);
  const bulkLines = lines.filter((l) => l.msg === 'connection closed' && l.toNode === BULK);
  assert.deepEqual(bulkLines.map((l) => l.fromNode), [BULK, BULK], 'bytes each way in the close lines');
  assert.ok(Date.now() - started < 30_000, `bounded: ${Date.now() - started} ms`);
});

// A node that half-closes: the proxy passes the FIN on, and the gateway still delivers every byte before 1000.
test('a node that sends and ends at once: every byte arrives, then 1000', { timeout: 20_000 }, async (t) => {
  const { dir, secretFile } = workdir(t);
  const greeting = pseudoRandom(300_000, 5);
  const node = await startBackend((s) => s.end(greeting));
  t.after(() => node.close());
  const cli = await spawnCli(['cluster-proxy', '--listen', '127.0.0.1:0', '--secret-file', secretFile, '--allow', `127.0.0.1:${node.port}`, '--log-level', 'info']);
  t.after(() => cli.child.kill('SIGKILL'));
  const resolver = vncDatabase(dir, [{ key: 'k', nodehost: '127.0.0.1', nodeport: node.port, connecthost: '127.0.0.1', connectport: cli.port }]);
  const gw = await startGateway({ routes: [{ path: '/v2', handler: 'tcp-proxy', resolver, clusterHandoff: { version: 2, secretFile } }] });
  t.after(() => gw.stop());
  const ws = new WebSocket(gw.url('/v2?key=k'));
  const got: Buffer[] = [];
  ws.on('message', (d: Buffer) => got.push(d));
  const { code } = await closed(ws);
  assert.equal(code, 1000);
  assert.ok(Buffer.concat(got).equals(greeting));
});
