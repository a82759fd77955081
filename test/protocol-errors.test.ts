// Bad input from clients: never a crash, always the right answer (an HTTP
// status before the 101, or the RFC 6455 close code after it), and the
// gateway keeps serving with no session left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import {
  startGateway, startBackend, connect, closed, handshakeStatus, upgradeRequest, pseudoRandom,
  rawWebSocket, encodeFrame, sessionsDrained, type RunningGateway,
} from './support/index.js';

let gw: RunningGateway;
let backend: Awaited<ReturnType<typeof startBackend>>;
let backendConnections = 0;

before(async () => {
  backend = await startBackend((s) => {
    backendConnections++;
    s.pipe(s);
  });
  gw = await startGateway({
    routes: [
      { path: '/echo', handler: 'echo' },
      { path: '/small', handler: 'echo', maxMessageSize: 1024 },
      { path: '/proxy', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}` },
    ],
  });
});
after(async () => {
  await gw.stop();
  await backend.close();
});

/** No session left, and a fresh echo session still works. */
async function stillServing(): Promise<void> {
  await sessionsDrained(gw.gateway);
  const ws = await connect(gw.url('/echo'));
  ws.send('still there?');
  const [data] = await once(ws, 'message');
  assert.equal(String(data), 'still there?');
  ws.close(1000);
  await closed(ws);
  await sessionsDrained(gw.gateway);
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? 0);

/**
 * Sends a request on a raw socket and resolves once one whole response (head
 * and Content-Length body) is in, without waiting for the server to close, or
 * with '' if the server closes without answering; `closedWithin(ms)` then
 * tells whether the server closed the connection in time. (Unlike
 * rawRequest, it leaves no timer behind to hold the test process.)
 */
async function exchange(text: string | Buffer): Promise<{ response: string; closedWithin(ms: number): Promise<boolean> }> {
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  const closedAt = once(socket, 'close').then(() => true);
  let buf = '';
  socket.write(text);
  const response = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      socket.removeListener('data', onData);
      resolve(buf);
    };
    socket.on('data', onData);
    void closedAt.then(() => (buf === '' ? resolve('') : reject(new Error(`closed before a whole response: ${JSON.stringify(buf)}`))));
  });
  return {
    response,
    closedWithin: async (ms) => {
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([closedAt, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
      clearTimeout(timer);
      socket.destroy();
      return result;
    },
  };
}

// ---- before the handshake ----

test('garbage instead of a handshake gets 400 or a closed connection', { timeout: 30_000 }, async (t) => {
  const cases: Array<[string, () => Promise<string>]> = [
    ['random bytes', async () => (await exchange(pseudoRandom(4096, 99))).response],
    ['half a request, then close', async () => {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.on('error', () => {});
      let out = '';
      socket.on('data', (c) => (out += c.toString('latin1')));
      await once(socket, 'connect');
      socket.end('GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConn');
      await once(socket, 'close');
      return out;
    }],
  ];
  for (const [name, send] of cases) {
    await t.test(name, async () => {
      const response = await send();
      assert.ok(response === '' || statusOf(response) === 400, `${name}: got ${JSON.stringify(response.slice(0, 80))}`);
      await stillServing();
    });
  }
  // Too large is not malformed: RFC 6585's 431, always answered.
  await t.test('a 64 KiB header gets 431', async () => {
    const { response } = await exchange(upgradeRequest('/echo', [`X-Huge: ${'a'.repeat(64 * 1024)}`]));
    assert.equal(statusOf(response), 431, `got ${JSON.stringify(response.slice(0, 80))}`);
    await stillServing();
  });
});

test('handshake refusals carry the right HTTP status', { timeout: 30_000 }, async (t) => {
  await t.test('unknown path -> 404', async () => {
    assert.equal(await handshakeStatus(gw.url('/nowhere')), 404);
  });
  await t.test('malformed Sec-WebSocket-Key -> 400', async () => {
    const { response } = await exchange(upgradeRequest('/echo', [], { 'Sec-WebSocket-Key': 'not-a-key' }));
    assert.equal(statusOf(response), 400);
  });
  await t.test('Sec-WebSocket-Version 7 -> 426 naming the versions spoken', async () => {
    const { response } = await exchange(upgradeRequest('/echo', [], { 'Sec-WebSocket-Version': '7' }));
    assert.equal(statusOf(response), 426);
    assert.match(response, /\r\nSec-WebSocket-Version: 13, 8\r\n/i);
  });
  await t.test('no Upgrade header -> 400 or 426', async () => {
    const { response, closedWithin } = await exchange(upgradeRequest('/echo', [], { Upgrade: null }));
    await closedWithin(0);
    assert.ok([400, 426].includes(statusOf(response)), response.split('\r\n')[0]);
  });
  await t.test('POST upgrade -> 405', async () => {
    const { response } = await exchange(upgradeRequest('/echo').replace(/^GET /, 'POST '));
    assert.equal(statusOf(response), 405);
  });
  await t.test('tcp-proxy offered only an unknown subprotocol -> 400, backend never dialed', async () => {
    const before = backendConnections;
    assert.equal(await handshakeStatus(gw.url('/proxy'), 'foo'), 400);
    assert.equal(backendConnections, before);
  });
  await t.test('plain GET on a WebSocket route -> 426, and "Connection: close" is honoured', async () => {
    const { response, closedWithin } = await exchange('GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(response), 426);
    // RFC 9112 §9.6: a server that receives "Connection: close" closes after its response.
    assert.ok(await closedWithin(2000), 'connection still open 2 s after the 426 although the client sent "Connection: close"');
  });
  await stillServing();
});

test('GET /healthz answers 200 with JSON status ok', { timeout: 10_000 }, async () => {
  const { status, type, body } = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: gw.port, path: '/healthz', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
  assert.equal(status, 200);
  assert.match(type, /^application\/json/);
  assert.equal(JSON.parse(body).status, 'ok');
});

test('GET /healthz?loop=1 adds event-loop utilization and delay since the previous such request; plain /healthz does not', { timeout: 10_000 }, async () => {
  const get = (path: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: gw.port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
      }).on('error', reject);
    });
  assert.equal((await get('/healthz')).eventLoop, undefined);
  await get('/healthz?loop=1'); // starts the sampler, opens a window
  const busyUntil = Date.now() + 150;
  setTimeout(() => {
    while (Date.now() < busyUntil); // the gateway runs in this process: block its loop
  }, 50);
  await new Promise((r) => setTimeout(r, 400));
  const { eventLoop } = (await get('/healthz?loop=1')) as { eventLoop: { utilization: number; delayMs: { p50: number; p99: number; max: number }; windowMs: number } };
  assert.ok(eventLoop.windowMs >= 350 && eventLoop.windowMs < 5000, `window ${eventLoop.windowMs}`);
  assert.ok(eventLoop.utilization > 0.2 && eventLoop.utilization <= 1, `utilization ${eventLoop.utilization}`);
  assert.ok(eventLoop.delayMs.max >= 50, `a 100 ms block shows as delay: ${JSON.stringify(eventLoop.delayMs)}`);
  assert.ok(eventLoop.delayMs.p50 <= eventLoop.delayMs.p99 && eventLoop.delayMs.p99 <= eventLoop.delayMs.max);
});

// ---- after the handshake: close codes ----

test('a message one byte over maxMessageSize closes with 1009', { timeout: 10_000 }, async () => {
  const ws = await connect(gw.url('/small'));
  ws.send(Buffer.alloc(1024, 1)); // exactly the limit passes
  const [echoed] = await once(ws, 'message');
  assert.equal((echoed as Buffer).length, 1024);
  ws.send(Buffer.alloc(1025, 2));
  assert.equal((await closed(ws)).code, 1009);
  await stillServing();
});

test('invalid UTF-8 in a text frame closes with 1007', { timeout: 10_000 }, async () => {
  const ws = await connect(gw.url('/echo'));
  ws.send(Buffer.from([0x68, 0x69, 0xc3, 0x28, 0xff]), { binary: false });
  assert.equal((await closed(ws)).code, 1007);
  await stillServing();
});

const closeCode = (code: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return b;
};

const protocolErrors: Array<[string, Buffer]> = [
  ['an unmasked client frame', encodeFrame(0x1, 'hello', { mask: false })],
  ['reserved opcode 0x3', encodeFrame(0x3, 'x')],
  ['a ping with a 126-byte payload', encodeFrame(0x9, Buffer.alloc(126, 0x61))],
  ['a continuation frame with no message started', encodeFrame(0x0, 'orphan')],
  ['RSV1 without permessage-deflate', encodeFrame(0x1, 'hello', { rsv: 4 })],
  ['a close frame with reserved code 1005', encodeFrame(0x8, closeCode(1005))],
  ['a close frame with code 999', encodeFrame(0x8, closeCode(999))],
];

for (const [name, frame] of protocolErrors) {
  test(`${name} closes with 1002`, { timeout: 10_000 }, async () => {
    const raw = await rawWebSocket(gw.port, '/echo');
    try {
      raw.socket.write(frame);
      const reply = await raw.nextFrame();
      assert.equal(reply.opcode, 0x8, `expected a close frame, got opcode 0x${reply.opcode.toString(16)}`);
      assert.equal(reply.masked, false);
      assert.ok(reply.payload.length >= 2, 'close frame carries a code');
      assert.equal(reply.payload.readUInt16BE(0), 1002);
      await raw.ended; // the server ends the connection after a protocol error
    } finally {
      raw.socket.destroy();
    }
    await stillServing();
  });
}
