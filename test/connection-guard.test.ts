// Connections that never become sessions cannot hold the gateway: silent and
// trickling clients are answered 408 and destroyed within the handshake
// timeout, oversized heads get 431, waiting connections are capped (oldest
// dropped first), every accepted socket has TCP keepalive, and established
// sessions and /healthz keep working meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { connect, rawRequest, spawnCli, startBackend } from './support/index.js';

/** Opens a TCP connection that sends nothing; resolves once connected. Records what it received and when it closed. */
async function silent(port: number): Promise<{ socket: net.Socket; received: () => string; closedAt: Promise<number> }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (c) => (text += c.toString('latin1')));
  const closedAt = once(socket, 'close').then(() => Date.now());
  await once(socket, 'connect');
  return { socket, received: () => text, closedAt };
}

async function echoGateway(args: string[]) {
  const backend = await startBackend((s) => s.pipe(s));
  const cli = await spawnCli([...args, '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  return {
    port: cli.port,
    output: cli.output,
    stop: async () => {
      cli.child.kill('SIGTERM');
      await cli.exited;
      await backend.close();
    },
  };
}

test('a connection that sends nothing is answered 408 and closed within the handshake timeout', async (t) => {
  const gw = await echoGateway(['--handshake-timeout', '1']);
  t.after(gw.stop);
  const started = Date.now();
  const conn = await silent(gw.port);
  const closedAt = await conn.closedAt;
  assert.ok(closedAt - started < 4000, `closed after ${closedAt - started} ms`);
  assert.match(conn.received(), /^HTTP\/1\.1 408 /);
  assert.match(gw.output(), /"status":408[^\n]*bad or slow HTTP request/);
});

test('a client trickling its headers is cut off within the handshake timeout (slowloris)', async (t) => {
  const gw = await echoGateway(['--handshake-timeout', '1']);
  t.after(gw.stop);
  const conn = await silent(gw.port);
  const started = Date.now();
  const request = 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Pad: ' + 'a'.repeat(200);
  let i = 0;
  const trickle = setInterval(() => conn.socket.writable && conn.socket.write(request[i++ % request.length]!), 100);
  t.after(() => clearInterval(trickle));
  const closedAt = await conn.closedAt;
  clearInterval(trickle);
  assert.ok(closedAt - started < 4000, `closed after ${closedAt - started} ms`);
  assert.match(conn.received(), /^HTTP\/1\.1 408 /);
});

test('a request head over --max-header-size is answered 431', async (t) => {
  const gw = await echoGateway(['--max-header-size', '4KiB']);
  t.after(gw.stop);
  const answer = await rawRequest(gw.port, `GET / HTTP/1.1\r\nHost: x\r\nCookie: ${'c'.repeat(8000)}\r\n\r\n`);
  assert.match(answer, /^HTTP\/1\.1 431 /);
  // A head under the limit is still served.
  assert.match(await rawRequest(gw.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200 /);
});

test('past --max-pending-connections the oldest waiting connection is dropped; sessions and /healthz go on', async (t) => {
  const gw = await echoGateway(['--max-pending-connections', '20', '--handshake-timeout', '30']);
  t.after(gw.stop);
  const session = await connect(`ws://127.0.0.1:${gw.port}/`);
  t.after(() => session.terminate());
  const conns: Array<Awaited<ReturnType<typeof silent>>> = [];
  for (let i = 0; i < 60; i++) conns.push(await silent(gw.port));
  t.after(() => conns.forEach((c) => c.socket.destroy()));
  // The 40 oldest were dropped, the newest 20 still wait.
  await Promise.all(conns.slice(0, 40).map((c) => c.closedAt));
  assert.ok(conns.slice(40).every((c) => !c.socket.destroyed), 'the newest connections are kept');
  // A new client still gets in (it pushes out the oldest waiting one) and is answered.
  assert.match(await rawRequest(gw.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200 /);
  // The established session was never counted as waiting: it still relays.
  const echoed = once(session, 'message');
  session.send(Buffer.from('still here'));
  const [data] = await echoed;
  assert.equal(String(data), 'still here');
  assert.match(gw.output(), /too many connections waiting for their request: dropped the oldest/);
});

test('accepted sockets have TCP keepalive on', async (t) => {
  const gw = await echoGateway([]);
  t.after(gw.stop);
  const session = await connect(`ws://127.0.0.1:${gw.port}/`);
  t.after(() => session.terminate());
  // ss -o shows the socket's timer: "keepalive" once SO_KEEPALIVE is set on the gateway's side.
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${gw.port} )`], { encoding: 'utf8' });
  assert.match(out, /timer:\(keepalive/, out);
});
