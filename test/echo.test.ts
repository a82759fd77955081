// The echo route end to end: every message size class of RFC 6455 framing
// (7-bit, 16-bit and 64-bit lengths, around each boundary), both types,
// byte-at-a-time delivery of frames, and a long pipeline of small messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { startGateway, connect, closed, pseudoRandom, rawWebSocket, encodeFrame, sessionsDrained, sha256, type RunningGateway, type WsFrame } from './support/index.js';

const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1024 * 1024, 16 * 1024 * 1024];

let gw: RunningGateway;
before(async () => {
  gw = await startGateway({ routes: [{ path: '/echo', handler: 'echo' }] });
});
after(async () => {
  await gw.stop();
});

/** `size` bytes of valid UTF-8: printable ASCII, with a 3-byte "€" at the end when it fits. */
function utf8Text(size: number, seed: number): Buffer {
  const buf = pseudoRandom(size, seed);
  for (let i = 0; i < size; i++) buf[i] = 0x20 + (buf[i]! % 95);
  if (size >= 3) Buffer.from('€').copy(buf, size - 3);
  return buf;
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: Buffer, isBinary: boolean) => {
      ws.removeListener('close', onClose);
      resolve({ data, isBinary });
    };
    const onClose = (code: number) => {
      ws.removeListener('message', onMessage);
      reject(new Error(`closed (${code}) before a message came back`));
    };
    ws.once('message', onMessage);
    ws.once('close', onClose);
  });
}

for (const binary of [false, true]) {
  test(`${binary ? 'binary' : 'text'} messages of every length class echo back byte-exact`, { timeout: 60_000 }, async () => {
    const ws = await connect(gw.url('/echo'));
    try {
      for (const size of SIZES) {
        const payload = binary ? pseudoRandom(size, size + 7) : utf8Text(size, size + 7);
        const reply = nextMessage(ws);
        ws.send(payload, { binary });
        const { data, isBinary } = await reply;
        assert.equal(isBinary, binary, `size ${size}: type`);
        assert.equal(data.length, size, `size ${size}: length`);
        if (size > 65536) assert.equal(sha256(data), sha256(payload), `size ${size}: sha256`);
        else assert.ok(data.equals(payload), `size ${size}: bytes differ`);
      }
      ws.close(1000);
      assert.equal((await closed(ws)).code, 1000);
    } finally {
      ws.terminate();
    }
    await sessionsDrained(gw.gateway);
  });
}

test('frames written one byte at a time are reassembled and echoed', { timeout: 30_000 }, async () => {
  const raw = await rawWebSocket(gw.port, '/echo');
  try {
    // The RFC 6455 §1.3 sample key, so the accept value is known.
    assert.match(raw.head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=(\r\n|$)/i);
    const text = 'héllo wörld, one byte at a time — ✓';
    const parts = [pseudoRandom(10, 1), pseudoRandom(200, 2), pseudoRandom(3, 3)]; // 200 uses the 16-bit length form
    const bytes = Buffer.concat([
      encodeFrame(0x1, text),
      encodeFrame(0x2, parts[0], { fin: false, maskKey: Buffer.from([1, 2, 3, 4]) }),
      encodeFrame(0x0, parts[1], { fin: false, maskKey: Buffer.from([0xff, 0, 0x80, 7]) }),
      encodeFrame(0x0, parts[2], { fin: true, maskKey: Buffer.from([9, 9, 9, 9]) }),
    ]);
    for (const byte of bytes) {
      raw.socket.write(Buffer.of(byte));
      await nextTurn();
    }
    // Read the replies as whole messages (the server may fragment; it must not mask).
    const messages: Array<{ opcode: number; payload: Buffer }> = [];
    let current: { opcode: number; chunks: Buffer[] } | null = null;
    while (messages.length < 2) {
      const f: WsFrame = await raw.nextFrame();
      assert.equal(f.masked, false, 'server frames must not be masked');
      assert.equal(f.rsv, 0);
      if (f.opcode >= 0x8) {
        assert.fail(`unexpected control frame 0x${f.opcode.toString(16)} before the echoes`);
      }
      if (current === null) {
        assert.notEqual(f.opcode, 0x0, 'continuation frame with no message started');
        current = { opcode: f.opcode, chunks: [] };
      } else {
        assert.equal(f.opcode, 0x0, 'a new data frame inside a fragmented message');
      }
      current.chunks.push(f.payload);
      if (f.fin) {
        messages.push({ opcode: current.opcode, payload: Buffer.concat(current.chunks) });
        current = null;
      }
    }
    assert.equal(messages[0]!.opcode, 0x1);
    assert.equal(messages[0]!.payload.toString('utf8'), text);
    assert.equal(messages[1]!.opcode, 0x2);
    assert.ok(messages[1]!.payload.equals(Buffer.concat(parts)), 'fragmented binary message reassembled byte-exact');

    // Close handshake: our 1000 comes back as 1000, then the server ends the TCP connection.
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    raw.socket.write(encodeFrame(0x8, code));
    const reply = await raw.nextFrame();
    assert.equal(reply.opcode, 0x8);
    assert.equal(reply.payload.readUInt16BE(0), 1000);
    await raw.ended;
  } finally {
    raw.socket.destroy();
  }
  await sessionsDrained(gw.gateway);
});

test('10,000 pipelined small messages all come back, in order, with their types', { timeout: 60_000 }, async () => {
  const N = 10_000;
  const ws = await connect(gw.url('/echo'));
  try {
    const received: Array<{ data: Buffer; isBinary: boolean }> = [];
    const all = new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        received.push({ data, isBinary });
        if (received.length === N) resolve();
      });
      ws.once('close', (c) => reject(new Error(`closed (${c}) after ${received.length} of ${N} messages`)));
    });
    for (let i = 0; i < N; i++) ws.send(i % 2 ? Buffer.from(`bin ${i}`) : `text ${i}`, { binary: i % 2 === 1 });
    await all;
    for (let i = 0; i < N; i++) {
      const { data, isBinary } = received[i]!;
      assert.equal(isBinary, i % 2 === 1, `message ${i}: type`);
      assert.equal(data.toString(), i % 2 ? `bin ${i}` : `text ${i}`, `message ${i}: content or order`);
    }
    ws.close(1000);
    await once(ws, 'close');
  } finally {
    ws.terminate();
  }
  await sessionsDrained(gw.gateway);
});
