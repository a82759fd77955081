// tcp-proxy when one side fails or leaves: refusals before the 101, resets,
// EOF, vanished clients, normal client close, bad base64. After each test the
// gateway's session registry must be empty.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';
import { startGateway, startBackend, connect, closed, handshakeStatus, byteStream, hashSink, seededSizes, sessionsDrained, drained, untilSteady, type RunningGateway } from './support/index.js';

const MiB = 1024 * 1024;

/** A gateway with one tcp-proxy route /p; stopped (after checking its registry is empty) when the test ends. */
async function proxyGateway(t: TestContext, route: Record<string, unknown>): Promise<RunningGateway> {
  const gw = await startGateway({ routes: [{ path: '/p', handler: 'tcp-proxy', ...route }] });
  t.after(async () => {
    try {
      await sessionsDrained(gw.gateway);
    } finally {
      await gw.stop();
    }
  });
  return gw;
}

async function backendFor(t: TestContext, onSocket: (socket: net.Socket) => void) {
  const backend = await startBackend(onSocket);
  t.after(() => backend.close());
  return backend;
}

/** Writes `total` bytes of stream `seed` in random chunk sizes, honouring backpressure; returns the sha256. */
async function pump(socket: net.Socket, seed: number, total: number): Promise<string> {
  const out = byteStream(seed, total);
  const size = seededSizes(seed + 1);
  while (out.remaining > 0) {
    if (!socket.write(out.take(size()))) await drained(socket);
    if (socket.destroyed) throw new Error('backend socket closed while sending');
  }
  return out.digest();
}

/** A client that hashes every binary message it receives. */
async function hashingClient(url: string) {
  const ws = new WebSocket(url, ['binary']);
  const sink = hashSink();
  ws.on('message', (data: Buffer) => sink.add(data));
  const end = closed(ws);
  await once(ws, 'open');
  return { ws, sink, end };
}

test('backend refusing the connection: HTTP 502 before any 101', { timeout: 10_000 }, async (t) => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve)); // now nothing listens there
  const gw = await proxyGateway(t, { target: `127.0.0.1:${port}` });
  assert.equal(await handshakeStatus(gw.url('/p')), 502);
  const unix = await startGateway({ routes: [{ path: '/u', handler: 'tcp-proxy', unixTarget: '/nonexistent/wsgate-test.sock' }] });
  try {
    assert.equal(await handshakeStatus(unix.url('/u')), 502);
  } finally {
    await unix.stop();
  }
});

test('backend connect timeout: HTTP 504 after connectTimeout', { timeout: 15_000 }, async (t) => {
  // A listener that never accepts, with a backlog of 0: once one connection waits in
  // its accept queue, further SYNs are dropped and connect() hangs.
  const script = "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()";
  const py = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => {
    py.kill();
  });
  const [line] = (await once(py.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  const fillers = [0, 1].map(() => net.connect(port, '127.0.0.1').on('error', () => {}));
  t.after(() => fillers.forEach((s) => s.destroy()));
  await once(fillers[0]!, 'connect');

  const gw = await proxyGateway(t, { target: `127.0.0.1:${port}`, connectTimeout: 1 });
  const started = Date.now();
  const status = await handshakeStatus(gw.url('/p'));
  const elapsed = Date.now() - started;
  t.diagnostic(`504 after ${elapsed} ms`);
  assert.equal(status, 504);
  assert.ok(elapsed >= 950 && elapsed < 2500, `504 after ${elapsed} ms, connectTimeout is 1 s`);
});

test('backend reset mid-stream: the client gets the data sent before it, then close 1011', { timeout: 20_000 }, async (t) => {
  const SIZE = 3 * MiB;
  let sentDigest: Promise<string> | undefined;
  const backend = await backendFor(t, (socket) => {
    sentDigest = pump(socket, 21, SIZE);
    // The client says when it has everything; then the backend resets instead of closing.
    socket.once('data', () => socket.resetAndDestroy());
  });
  const gw = await proxyGateway(t, { target: `127.0.0.1:${backend.port}` });
  const { ws, sink, end } = await hashingClient(gw.url('/p'));
  ws.on('message', () => {
    if (sink.bytes === SIZE) ws.send('got it');
  });
  const { code } = await end;
  assert.equal(sink.bytes, SIZE);
  assert.equal(sink.digest(), await sentDigest);
  assert.equal(code, 1011);
});

test('backend EOF right after its last byte: every byte, then close 1000 (16 sessions at once)', { timeout: 30_000 }, async (t) => {
  const SESSIONS = 16;
  const SIZE = 4 * MiB;
  const sent = new Map<number, Promise<string>>();
  const backend = await backendFor(t, (socket) => {
    socket.once('data', (id: Buffer) => {
      const seed = 100 + Number(id.toString());
      sent.set(seed, pump(socket, seed, SIZE).then((digest) => (socket.end(), digest)));
    });
  });
  const gw = await proxyGateway(t, { target: `127.0.0.1:${backend.port}` });
  const results = await Promise.all(
    Array.from({ length: SESSIONS }, async (_, i) => {
      const { ws, sink, end } = await hashingClient(gw.url('/p'));
      ws.send(String(i));
      const { code } = await end;
      return { seed: 100 + i, code, bytes: sink.bytes, digest: sink.digest() };
    }),
  );
  for (const r of results) {
    assert.deepEqual([r.code, r.bytes], [1000, SIZE], `session ${r.seed - 100}`);
    assert.equal(r.digest, await sent.get(r.seed), `session ${r.seed - 100}: sha256`);
  }
});

test('client vanishing mid-stream (TCP socket destroyed): the backend sees its end promptly', { timeout: 20_000 }, async (t) => {
  let onSocket!: (socket: net.Socket) => void;
  const accepted = new Promise<net.Socket>((resolve) => (onSocket = resolve));
  const backend = await backendFor(t, (socket) => {
    socket.resume(); // discard what the client sends
    void pump(socket, 31, 1024 * MiB).catch(() => {}); // more than will ever be read
    onSocket(socket);
  });
  const gw = await proxyGateway(t, { target: `127.0.0.1:${backend.port}` });
  const ws = await connect(gw.url('/p'), ['binary']);
  const socket = await accepted;
  let received = 0;
  const enough = new Promise<void>((resolve) =>
    ws.on('message', (d: Buffer) => {
      received += d.length;
      if (received >= 2 * MiB) resolve();
    }),
  );
  const sending = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(Buffer.alloc(64 * 1024, 7)), 5);
  t.after(() => clearInterval(sending));
  await enough;
  const ended = new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
  });
  const vanished = Date.now();
  ws.terminate(); // destroys the TCP socket: no close frame
  clearInterval(sending);
  await ended;
  const after = Date.now() - vanished;
  assert.ok(after < 2000, `backend saw the end ${after} ms after the client vanished`);
  assert.equal(gw.gateway.registry.size, 0);
});

test('client closing normally after sending: the backend gets every byte, then FIN', { timeout: 30_000 }, async (t) => {
  for (const slowBackend of [false, true]) {
    const SIZE = 16 * MiB;
    let gotAll!: Promise<{ bytes: number; digest: string }>;
    let resume = () => {};
    const backend = await backendFor(t, (socket) => {
      const sink = hashSink();
      gotAll = new Promise((resolve) => socket.once('end', () => resolve({ bytes: sink.bytes, digest: sink.digest() })));
      if (slowBackend) {
        socket.pause();
        resume = () => socket.on('data', (c: Buffer) => sink.add(c)).resume(); // 'data' alone does not undo pause()
      } else {
        socket.on('data', (c: Buffer) => sink.add(c));
      }
    });
    const gw = await proxyGateway(t, { target: `127.0.0.1:${backend.port}` });
    const ws = await connect(gw.url('/p'), ['binary']);
    const end = closed(ws);
    const out = byteStream(41, SIZE);
    const size = seededSizes(42);
    while (out.remaining > 0) ws.send(out.take(size()));
    ws.close(1000, 'done'); // queued behind the data
    if (slowBackend) {
      // Let the pipeline fill up (the gateway stops reading the client, the close frame still
      // unread behind the data), then read. No event says "stalled": poll the client's buffer.
      await untilSteady(() => ws.bufferedAmount, { quietMs: 500, everyMs: 50, timeoutMs: 20_000, what: () => `the client's buffer settling (${ws.bufferedAmount} bytes)` });
      assert.ok(ws.bufferedAmount > 0, 'the gateway should have stopped taking data from the client');
      resume();
    }
    const got = await gotAll;
    assert.equal(got.bytes, SIZE, `slow backend: ${slowBackend}`);
    assert.equal(got.digest, out.digest(), `slow backend: ${slowBackend}`);
    assert.equal((await end).code, 1000);
    await sessionsDrained(gw.gateway);
  }
});

test('base64 route receiving invalid base64: close 1007; earlier valid data reached the backend', { timeout: 10_000 }, async (t) => {
  let onEnd!: (data: Buffer) => void;
  const backendEnd = new Promise<Buffer>((resolve) => (onEnd = resolve));
  const backend = await backendFor(t, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => onEnd(Buffer.concat(chunks)));
  });
  const gw = await proxyGateway(t, { target: `127.0.0.1:${backend.port}` });
  const ws = await connect(gw.url('/p'), ['base64']);
  assert.equal(ws.protocol, 'base64');
  const end = closed(ws);
  ws.send(Buffer.from('hello').toString('base64'));
  ws.send('not base64!');
  assert.equal((await end).code, 1007);
  assert.equal((await backendEnd).toString(), 'hello');
});
