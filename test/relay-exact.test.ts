// Byte-exactness of the tcp-proxy relay: large random-sized traffic both ways
// at once, compared by sha256, in `binary` and `base64`; plus the subprotocol
// defaults, Unix-socket targets, and service-name targets.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { startGateway, startBackend, closed, handshakeStatus, spawnCli, byteStream, hashSink, seededSizes, sessionsDrained, drained, tempDir } from './support/index.js';

const MiB = 1024 * 1024;

interface Plan {
  /** Bytes the backend sends (backend -> client) and the client sends (client -> backend). */
  down: number;
  up: number;
  seed: number;
}

/**
 * Backend side of one session: sends `plan.down` bytes in random chunk sizes
 * (respecting write() backpressure) while hashing what it receives; once it
 * has sent everything and received `plan.up` bytes it ends its side (FIN).
 */
function serveBackend(socket: net.Socket, plan: Plan): Promise<{ sent: string; received: string; receivedBytes: number }> {
  const out = byteStream(plan.seed, plan.down);
  const sink = hashSink();
  const size = seededSizes(plan.seed + 100);
  const received = new Promise<void>((resolve, reject) => {
    if (plan.up === 0) resolve();
    socket.on('data', (chunk: Buffer) => {
      sink.add(chunk);
      if (sink.bytes >= plan.up) resolve();
    });
    socket.on('close', () => reject(new Error(`backend socket closed after receiving ${sink.bytes} of ${plan.up} bytes`)));
  });
  const sent = (async () => {
    while (out.remaining > 0) {
      if (!socket.write(out.take(size()))) await drained(socket);
      if (socket.destroyed) throw new Error('backend socket destroyed while sending');
    }
  })();
  return Promise.all([sent, received]).then(() => {
    socket.end();
    return { sent: out.digest(), received: sink.digest(), receivedBytes: sink.bytes };
  });
}

/**
 * Client side: opens `url` (offering `protocols`), sends `plan.up` bytes as
 * random-sized messages (binary frames, or base64 text frames) while hashing
 * what arrives, checks every received frame's type, and waits for the close.
 */
async function runClient(url: string, protocols: string[] | undefined, plan: Plan, options: { perMessageDeflate?: boolean } = {}) {
  const base64 = protocols?.[0] === 'base64';
  const ws = new WebSocket(url, protocols, options);
  const upgrade = once(ws, 'upgrade');
  const sink = hashSink();
  let wrongType = 0;
  let badBase64 = 0;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary === base64) wrongType++;
    if (base64) {
      const text = data.toString('latin1');
      const bytes = Buffer.from(text, 'base64');
      if (bytes.toString('base64') !== text) badBase64++;
      sink.add(bytes);
    } else {
      sink.add(data);
    }
  });
  const end = closed(ws);
  await once(ws, 'open');
  const [response] = (await upgrade) as [import('node:http').IncomingMessage];
  const out = byteStream(plan.seed + 1, plan.up);
  const size = seededSizes(plan.seed + 200);
  while (out.remaining > 0) {
    const chunk = out.take(size());
    const data = base64 ? chunk.toString('base64') : chunk;
    if (ws.bufferedAmount < 4 * MiB) ws.send(data, { binary: !base64 });
    else await new Promise<void>((resolve, reject) => ws.send(data, { binary: !base64 }, (err) => (err ? reject(err) : resolve())));
  }
  const { code } = await end;
  return { code, sent: out.digest(), received: sink.digest(), receivedBytes: sink.bytes, wrongType, badBase64, protocol: ws.protocol, headers: response.headers, extensions: ws.extensions };
}

/** One full-duplex session through a tcp-proxy route to a fresh backend; asserts both directions are exact. */
async function exchange(t: TestContext, protocols: string[] | undefined, plan: Plan, deflate = false) {
  let backendResult: ReturnType<typeof serveBackend> | undefined;
  const backend = await startBackend((s) => {
    backendResult = serveBackend(s, plan);
    backendResult.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled
  });
  t.after(() => backend.close());
  const gw = await startGateway({ routes: [{ path: '/p', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, ...(deflate ? { perMessageDeflate: true } : {}) }] });
  t.after(() => gw.stop());
  const client = await runClient(gw.url('/p'), protocols, plan, { perMessageDeflate: deflate });
  const server = await backendResult!;
  assert.equal(client.receivedBytes, plan.down, 'backend -> client byte count');
  assert.equal(client.received, server.sent, 'backend -> client sha256');
  assert.equal(server.receivedBytes, plan.up, 'client -> backend byte count');
  assert.equal(server.received, client.sent, 'client -> backend sha256');
  assert.equal(client.wrongType, 0, 'frames of the wrong type (text in binary mode or binary in base64 mode)');
  assert.equal(client.badBase64, 0, 'text frames that are not canonical padded base64');
  assert.equal(client.code, 1000);
  await sessionsDrained(gw.gateway);
  return client;
}

test('binary: 256 MiB each way at once, random message and chunk sizes, byte-exact', { timeout: 60_000 }, async (t) => {
  const client = await exchange(t, ['binary'], { down: 256 * MiB, up: 256 * MiB, seed: 11 });
  assert.equal(client.protocol, 'binary');
  assert.equal(client.headers['sec-websocket-protocol'], 'binary');
});

test('permessage-deflate: 48 MiB each way compressed, byte-exact (read buffers lent to the frame wait for zlib)', { timeout: 60_000 }, async (t) => {
  const client = await exchange(t, ['binary'], { down: 48 * MiB, up: 48 * MiB, seed: 29 }, true);
  assert.match(client.extensions, /permessage-deflate/);
});

test('base64: 128 MiB each way at once as text frames, byte-exact', { timeout: 60_000 }, async (t) => {
  const client = await exchange(t, ['base64'], { down: 128 * MiB, up: 128 * MiB, seed: 23 });
  assert.equal(client.protocol, 'base64');
  assert.equal(client.headers['sec-websocket-protocol'], 'base64');
});

test('a client offering no subprotocol gets binary frames and no Sec-WebSocket-Protocol header', { timeout: 20_000 }, async (t) => {
  const client = await exchange(t, undefined, { down: 8 * MiB, up: 8 * MiB, seed: 37 });
  assert.equal(client.protocol, '');
  assert.equal(client.headers['sec-websocket-protocol'], undefined);
});

/** A Unix-socket backend in a fresh temp dir (removed when the test ends). */
async function unixBackend(t: TestContext, plan: Plan) {
  const dir = tempDir(t, 'relay');
  const file = path.join(dir, 'backend.sock');
  let result: ReturnType<typeof serveBackend> | undefined;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    result = serveBackend(s, plan);
    result.catch(() => {}); // awaited by the test
  });
  server.listen(file);
  await once(server, 'listening');
  return {
    file,
    result: () => result!,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('unixTarget: relays byte-exactly through a Unix socket', { timeout: 20_000 }, async (t) => {
  const plan = { down: 16 * MiB, up: 16 * MiB, seed: 41 };
  const backend = await unixBackend(t, plan);
  t.after(() => backend.close());
  const gw = await startGateway({ routes: [{ path: '/u', handler: 'tcp-proxy', unixTarget: backend.file }] });
  t.after(() => gw.stop());
  const client = await runClient(gw.url('/u'), ['binary'], plan);
  const server = await backend.result();
  assert.deepEqual([client.receivedBytes, client.received], [plan.down, server.sent]);
  assert.deepEqual([server.receivedBytes, server.received], [plan.up, client.sent]);
  assert.equal(client.code, 1000);
  await sessionsDrained(gw.gateway);
});

test('--unix-target (CLI): relays byte-exactly through a Unix socket', { timeout: 20_000 }, async (t) => {
  const plan = { down: 4 * MiB, up: 4 * MiB, seed: 43 };
  const backend = await unixBackend(t, plan);
  t.after(() => backend.close());
  const cli = await spawnCli(['127.0.0.1:0', '--unix-target', backend.file]);
  t.after(() => cli.child.kill('SIGKILL')); // only if the test failed before the orderly stop below
  const client = await runClient(`ws://127.0.0.1:${cli.port}/any/path`, ['binary'], plan);
  const server = await backend.result();
  assert.deepEqual([client.receivedBytes, client.received], [plan.down, server.sent]);
  assert.deepEqual([server.receivedBytes, server.received], [plan.up, client.sent]);
  assert.equal(client.code, 1000);
  cli.child.kill('SIGTERM');
  const exit = await cli.exited;
  assert.equal(exit.code, 0, exit.stderr);
});

test('a target port given as a /etc/services name loads and is dialled on that port', { timeout: 20_000 }, async (t) => {
  const gw = await startGateway({ routes: [{ path: '/e', handler: 'tcp-proxy', target: '127.0.0.1:echo', connectTimeout: 2 }] });
  await gw.stop();
  await assert.rejects(
    startGateway({ routes: [{ path: '/e', handler: 'tcp-proxy', target: '127.0.0.1:no-such-service-wsgate' }] }),
    /no-such-service-wsgate/,
  );
  // The CLI form, whose logs show the port the name resolved to (echo = 7): a refusal or a session, either names it.
  const cli = await spawnCli(['127.0.0.1:0', '127.0.0.1:echo', '--connect-timeout', '2']);
  t.after(() => cli.child.kill('SIGKILL'));
  const status = await handshakeStatus(`ws://127.0.0.1:${cli.port}/`);
  assert.ok([101, 502, 504].includes(status), `status ${status}`);
  const line = /^.*"msg":"(handshake refused|session open)".*$/m;
  if (!line.test(cli.output())) await new Promise<void>((resolve) => cli.child.stdout!.on('data', () => line.test(cli.output()) && resolve()));
  assert.match(line.exec(cli.output())![0], /127\.0\.0\.1:7\b/);
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited).code, 0);
});
