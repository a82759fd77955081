// User plugins end to end: the documented example plugin (options, refusal,
// response header, fragmented greeting, upper-case echo) and a plugin whose
// connect() throws.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { REPO_ROOT, startGateway, connect, closed, handshakeStatus, rawWebSocket, encodeFrame, tempDir, type RunningGateway } from './support/index.js';

const PLUGIN = join(REPO_ROOT, 'dist/examples/uppercase-plugin.js');

let gw: RunningGateway;
before(async () => {
  gw = await startGateway({
    routes: [
      { path: '/up', handler: PLUGIN, prefix: '> ' },
      { path: '/plain', handler: './dist/examples/uppercase-plugin.js' },
    ],
  });
});
after(async () => {
  await gw.stop();
});

/**
 * A client whose messages are queued from the start: the greeting arrives with
 * the 101, before code awaiting 'open' could attach a listener.
 */
function client(url: string, protocols?: string[]): { ws: WebSocket; next(): Promise<[string, boolean]>; opened: Promise<unknown> } {
  const ws = new WebSocket(url, protocols);
  const queue: Array<[string, boolean]> = [];
  const waiters: Array<(m: [string, boolean]) => void> = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const m: [string, boolean] = [data.toString(), isBinary];
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return {
    ws,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))),
    opened: once(ws, 'open'),
  };
}

test('example plugin: greeting in 3 fragments, X-Example header, upper-cased echo (raw frames)', { timeout: 10_000 }, async () => {
  const raw = await rawWebSocket(gw.port, '/up');
  try {
    assert.match(raw.head, /^X-Example: 1$/im);
    const frames = [await raw.nextFrame(), await raw.nextFrame(), await raw.nextFrame()];
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.payload.toString()]),
      [[1, false, '> HELLO'], [0, false, ', '], [0, true, 'CLIENT']],
    );
    raw.socket.write(encodeFrame(1, 'abc déf'));
    const reply = await raw.nextFrame();
    assert.deepEqual([reply.opcode, reply.fin, reply.payload.toString()], [1, true, '> ABC DÉF']);
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    raw.socket.write(encodeFrame(8, code));
    const closeFrame = await raw.nextFrame();
    assert.equal(closeFrame.opcode, 8);
    assert.equal(closeFrame.payload.readUInt16BE(0), 1000);
    await raw.ended;
  } finally {
    raw.socket.destroy();
  }
});

test('example plugin: through a ws client; relative module path; no prefix by default', { timeout: 10_000 }, async () => {
  const { ws, next, opened } = client(gw.url('/plain'));
  const upgraded = once(ws, 'upgrade') as Promise<[IncomingMessage]>;
  await opened;
  const [res] = await upgraded;
  assert.equal(res.headers['x-example'], '1');
  assert.deepEqual(await next(), ['HELLO, CLIENT', false]);
  ws.send('mixed Case ß');
  assert.deepEqual(await next(), ['MIXED CASE SS', false]);
  ws.close(1000, 'bye');
  assert.equal((await closed(ws)).code, 1000);
});

test('example plugin: the prefix option and the offered subprotocol are used', { timeout: 10_000 }, async () => {
  const { ws, next, opened } = client(gw.url('/up?x=1'), ['chat']);
  await opened;
  assert.equal(ws.protocol, 'chat');
  assert.deepEqual(await next(), ['> HELLO, CLIENT', false]);
  ws.send('one');
  ws.send('two');
  assert.deepEqual(await next(), ['> ONE', false]);
  assert.deepEqual(await next(), ['> TWO', false]);
  ws.close();
  await closed(ws);
});

test('example plugin: deny=1 is refused with 403 before the handshake', { timeout: 10_000 }, async () => {
  assert.equal(await handshakeStatus(gw.url('/up?deny=1')), 403);
  assert.equal(await handshakeStatus(gw.url('/up?deny=0')), 101);
});

test('example plugin: a binary message closes with 1003', { timeout: 10_000 }, async () => {
  const { ws, next, opened } = client(gw.url('/up'));
  await opened;
  assert.deepEqual(await next(), ['> HELLO, CLIENT', false]);
  const done = closed(ws);
  ws.send(Buffer.from([1, 2, 3]));
  assert.deepEqual(await done, { code: 1003, reason: 'text messages only' });
});

test('example plugin: its options are checked at startup', { timeout: 10_000 }, async () => {
  await assert.rejects(startGateway({ routes: [{ path: '/up', handler: PLUGIN, prefx: '> ' }] }), /routes\[0\]\.prefx: unknown field/);
  await assert.rejects(startGateway({ routes: [{ path: '/up', handler: PLUGIN, prefix: 5 }] }), /routes\[0\]\.prefix: must be string/);
});

test('a plugin whose connect() throws: 500, and the gateway keeps serving', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t, 'plugin');
  let bad: RunningGateway | undefined;
  try {
    const module = join(dir, 'throws.mjs');
    await writeFile(
      module,
      `export default () => ({
  connect(c) {
    if (c.url.searchParams.has('async')) return Promise.reject(new Error('boom (async)'));
    throw new Error('boom');
  },
});
`,
    );
    bad = await startGateway({ routes: [{ path: '/bad', handler: module }, { path: '/echo', handler: 'echo' }] });
    assert.equal(await handshakeStatus(bad.url('/bad')), 500);
    assert.equal(await handshakeStatus(bad.url('/bad?async=1')), 500);
    const ws = await connect(bad.url('/echo'));
    ws.send('still here');
    const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    assert.deepEqual([data.toString(), isBinary], ['still here', false]);
    ws.close();
    await closed(ws);
    assert.equal(await handshakeStatus(bad.url('/bad')), 500);
    assert.equal(bad.gateway.registry.size, 0);
  } finally {
    await bad?.stop();
  }
});
