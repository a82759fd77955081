// tcp-proxy with `framing: guacamole` over real loopback sockets, against a
// fake Guacamole-speaking backend: whole instructions per message, byte for
// byte both ways; pings answered by the gateway; broken streams closed with
// the right code and a numeric Guacamole status; the backend's idle timeout.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { startGateway, startBackend, closed, handshakeStatus, seededSizes, drained, connect, sessionsDrained, until } from './support/index.js';
import { drawingInstructions, instruction, parseWhole } from './support/guacamole.js';

async function setup(t: TestContext, onSocket: (socket: net.Socket) => void, route: Record<string, unknown> = {}) {
  const backend = await startBackend(onSocket);
  t.after(() => backend.close());
  const gw = await startGateway({ routes: [{ path: '/guac', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, framing: 'guacamole', ...route }] });
  t.after(() => gw.stop());
  return { backend, gw, url: gw.url('/guac') };
}

/** Writes `bytes` in random-sized pieces, some after a pause, as a busy guacd would. */
async function writeChunked(socket: net.Socket, bytes: Buffer, seed: number): Promise<void> {
  const size = seededSizes(seed, 70_000);
  for (let pos = 0; pos < bytes.length; ) {
    const n = size();
    if (!socket.write(bytes.subarray(pos, pos + n))) await drained(socket);
    pos += n;
    if (n % 7 === 0) await new Promise((r) => setImmediate(r));
  }
}

/** A client that checks every message on arrival: text, whole instructions. Pings' answers are kept apart. */
function tunnelClient(url: string) {
  const ws = new WebSocket(url, ['guacamole']);
  const data: Buffer[] = [];
  const pongs: string[] = [];
  const problems: string[] = [];
  ws.on('message', (msg: Buffer, isBinary: boolean) => {
    if (isBinary) problems.push('a binary message');
    try {
      parseWhole(msg.toString('utf8'));
    } catch (e) {
      problems.push((e as Error).message);
    }
    if (msg.toString('latin1', 0, 3) === '0.,') pongs.push(msg.toString());
    else data.push(Buffer.from(msg));
  });
  return { ws, data, pongs, problems, end: closed(ws), opened: once(ws, 'open') };
}

test('both ways, byte for byte: whole instructions per message; pings answered, not forwarded', { timeout: 60_000 }, async (t) => {
  const down = Buffer.from(drawingInstructions(11, 3000).join(''));
  const up: string[] = [];
  for (let i = 0; i < 300; i++) up.push(instruction('key', 65 + i, i % 2) + instruction('mouse', i, 2 * i, 1, 'ünï€😀'.repeat(i % 5)));
  const ping = (i: number) => instruction('', 'ping', 1_700_000_000_000 + i);
  let received = Buffer.alloc(0);
  const { url } = await setup(t, (socket) => {
    socket.on('data', (c: Buffer) => (received = Buffer.concat([received, c])));
    void writeChunked(socket, down, 5).then(async () => {
      await until(() => received.length >= Buffer.byteLength(up.join('')), { timeoutMs: 20_000, what: "the client's instructions" });
      socket.end();
    });
  });
  const client = tunnelClient(url);
  await client.opened;
  assert.equal(client.ws.protocol, 'guacamole');
  for (let i = 0; i < up.length; i++) {
    // Pings alone, before, between and after other instructions in one message.
    if (i % 3 === 0) client.ws.send(ping(i));
    client.ws.send(i % 3 === 1 ? ping(i) + up[i] + ping(i + 1000) : up[i]!);
  }
  const { code, reason } = await client.end;
  assert.deepEqual(client.problems, []);
  assert.equal(code, 1000);
  assert.equal(reason, '0', 'the web client reads the reason as a Guacamole status: SUCCESS');
  assert.ok(Buffer.concat(client.data).equals(down), 'backend -> client differs');
  assert.ok(client.data.length < 3000 / 4, `${client.data.length} messages for 3000 instructions`);
  assert.equal(received.toString(), up.join(''), 'client -> backend differs (or a ping reached the backend)');
  const expectedPongs = up.flatMap((_, i) => (i % 3 === 0 ? [ping(i)] : i % 3 === 1 ? [ping(i), ping(i + 1000)] : []));
  assert.deepEqual(client.pongs, expectedPongs);
});

test('subprotocol: guacamole is chosen; a client offering only others is refused', async (t) => {
  const { url } = await setup(t, () => {});
  assert.equal(await handshakeStatus(url, ['binary']), 400);
  const ws = await connect(url, ['binary', 'guacamole']);
  assert.equal(ws.protocol, 'guacamole');
  ws.close();
});

test('a malformed backend stream closes with 1002 or 1007 after the whole instructions before it; the gateway goes on', async (t) => {
  const good = instruction('sync', 1) + instruction('name', 'ok€');
  const streams = [Buffer.from(good + '4.sync,x.1;'), Buffer.concat([Buffer.from(good + '4.name,2.a'), Buffer.from([0xff]), Buffer.from(';')])];
  let next = 0;
  const { url, gw } = await setup(t, (socket) => socket.end(streams[next++]));
  for (const expected of [1002, 1007]) {
    const client = tunnelClient(url);
    const { code, reason } = await client.end;
    assert.equal(code, expected);
    assert.equal(reason, '515', 'UPSTREAM_ERROR');
    assert.equal(Buffer.concat(client.data).toString(), good);
  }
  await sessionsDrained(gw.gateway);
});

test('a backend that ends inside an instruction: what was whole is delivered, then 1002', async (t) => {
  const good = instruction('sync', 1);
  const { url } = await setup(t, (socket) => socket.end(good + '4.sync,2.1'));
  const client = tunnelClient(url);
  const { code, reason } = await client.end;
  assert.equal(code, 1002);
  assert.equal(reason, '515');
  assert.equal(Buffer.concat(client.data).toString(), good);
});

test('a malformed or binary client message closes the tunnel; nothing of it reaches the backend', async (t) => {
  let received = '';
  const { url } = await setup(t, (socket) => socket.on('data', (c) => (received += c)));
  const cases: Array<[string | Buffer, number, string]> = [
    ['3.key,1.1', 1002, '768'],
    ['3.key,x.1;', 1002, '768'],
    [Buffer.from('3.key,1.1;'), 1003, '783'],
  ];
  for (const [message, code, reason] of cases) {
    const ws = await connect(url, ['guacamole']);
    const end = closed(ws);
    ws.send(instruction('key', 1, 1));
    ws.send(message, { binary: typeof message !== 'string' });
    assert.deepEqual(await end, { code, reason });
  }
  await until(() => received.length >= 3 * instruction('key', 1, 1).length, { timeoutMs: 5000, what: 'the good instructions' });
  assert.equal(received, instruction('key', 1, 1).repeat(3));
});

test('a silent backend is closed after backendIdleTimeout (UPSTREAM_TIMEOUT), a talking one is not', async (t) => {
  let talk = false;
  const { url } = await setup(
    t,
    (socket) => {
      if (!talk) return;
      const timer = setInterval(() => socket.write(instruction('nop')), 100);
      socket.on('close', () => clearInterval(timer));
    },
    { backendIdleTimeout: 1 },
  );
  const started = Date.now();
  const silent = tunnelClient(url);
  assert.deepEqual(await silent.end, { code: 1011, reason: '514' });
  assert.ok(Date.now() - started >= 950);
  talk = true;
  const talking = tunnelClient(url);
  await talking.opened;
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(talking.ws.readyState, WebSocket.OPEN);
  talking.ws.close();
  await talking.end;
});

test('a backend that resets right after the connect: no crash; a 502, or a tunnel closed with 1011 and status 515', { timeout: 30_000 }, async (t) => {
  const { url, gw } = await setup(t, (socket) => socket.resetAndDestroy());
  for (let i = 0; i < 20; i++) {
    try {
      const ws = await connect(url, ['guacamole']);
      const end = await closed(ws);
      assert.ok((end.code === 1011 && end.reason === '515') || (end.code === 1000 && end.reason === '0'), `closed with ${JSON.stringify(end)}`);
    } catch (e) {
      assert.equal((e as { status?: number }).status, 502);
    }
  }
  await sessionsDrained(gw.gateway);
});
