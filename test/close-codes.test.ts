// RFC 6455 §7.4.1: 1005, 1006 and 1015 are for reporting only and must never
// appear in a close frame (browsers fail the connection if they do; websockify
// has sent 1005). Every way wsgate closes a session is read here off the wire.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGateway, startBackend, rawWebSocket, encodeFrame, sessionsDrained, tempDir, type RawWebSocket, type RunningGateway } from './support/index.js';

const RESERVED = [1005, 1006, 1015];
const dir = tempDir(after, 'close');
let gw: RunningGateway;
let backend: Awaited<ReturnType<typeof startBackend>>;

before(async () => {
  // A plugin that closes with whatever code the query asks for, as a careless plugin might.
  const plugin = join(dir, 'close-with.mjs');
  await writeFile(
    plugin,
    `export default () => ({
      connect: (c) => ({ accept: true, state: Number(c.url.searchParams.get('code')) }),
      open(code, session) { try { session.close(code, 'plugin'); } catch { session.close(1011, 'plugin asked for an illegal code'); } },
    });\n`,
  );
  // The backend does what the client's first byte says: "e" = end (FIN), "r" = reset (RST).
  backend = await startBackend((s: Socket) =>
    s.once('data', (d) => (d[0] === 0x65 ? s.end() : s.resetAndDestroy())),
  );
  gw = await startGateway({
    routes: [
      { path: '/echo', handler: 'echo', maxMessageSize: 64 },
      { path: '/proxy', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}` },
      { path: '/plugin', handler: plugin, closeTimeout: 1 },
    ],
  });
});
after(async () => {
  await gw.stop();
  await backend.close();
});

/** Every close frame the server sends until it ends the connection; its status codes (null for an empty body). */
async function closeCodes(raw: RawWebSocket, answerClose = true): Promise<Array<number | null>> {
  const codes: Array<number | null> = [];
  for (;;) {
    const frame = await raw.nextFrame(8000).catch(() => null);
    if (!frame) return codes;
    if (frame.opcode !== 0x8) continue;
    codes.push(frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null);
    if (answerClose && raw.socket.writable) raw.socket.end(encodeFrame(0x8, frame.payload.subarray(0, 2)));
  }
}

function closeFrame(code?: number, reason = ''): Buffer {
  if (code === undefined) return encodeFrame(0x8);
  const body = Buffer.alloc(2 + Buffer.byteLength(reason));
  body.writeUInt16BE(code, 0);
  body.write(reason, 2);
  return encodeFrame(0x8, body);
}

async function scenario(path: string, act: (raw: RawWebSocket) => void): Promise<Array<number | null>> {
  const raw = await rawWebSocket(gw.port, path);
  act(raw);
  const codes = await closeCodes(raw);
  raw.socket.destroy();
  for (const c of codes) assert.ok(c === null || !RESERVED.includes(c), `${path}: close frame with reserved code ${c}`);
  return codes;
}

test('client closes: with no code, 1000, 1001, 4000 -> the answer never carries 1005', { timeout: 20_000 }, async () => {
  assert.deepEqual(await scenario('/echo', (r) => r.socket.write(closeFrame())), [null]);
  assert.deepEqual(await scenario('/echo', (r) => r.socket.write(closeFrame(1000, 'bye'))), [1000]);
  assert.deepEqual(await scenario('/echo', (r) => r.socket.write(closeFrame(1001))), [1001]);
  assert.deepEqual(await scenario('/echo', (r) => r.socket.write(closeFrame(4000, 'app'))), [4000]);
});

test('client sends a reserved code -> 1002, never an echo of it', { timeout: 20_000 }, async () => {
  for (const code of RESERVED) assert.deepEqual(await scenario('/echo', (r) => r.socket.write(closeFrame(code))), [1002], `client sent ${code}`);
});

test('protocol errors: oversize -> 1009, bad UTF-8 -> 1007, unmasked frame -> 1002', { timeout: 20_000 }, async () => {
  assert.deepEqual(await scenario('/echo', (r) => r.socket.write(encodeFrame(0x2, Buffer.alloc(65)))), [1009]);
  assert.deepEqual(await scenario('/echo', (r) => r.socket.write(encodeFrame(0x1, Buffer.from([0xc3, 0x28])))), [1007]);
  assert.deepEqual(await scenario('/echo', (r) => r.socket.write(encodeFrame(0x2, 'x', { mask: false }))), [1002]);
});

test('backend ends -> 1000; backend resets -> 1011; client vanishes -> no frame at all', { timeout: 20_000 }, async () => {
  assert.deepEqual(await scenario('/proxy', (r) => r.socket.write(encodeFrame(0x2, 'e'))), [1000]);
  assert.deepEqual(await scenario('/proxy', (r) => r.socket.write(encodeFrame(0x2, 'r'))), [1011]);
  const raw = await rawWebSocket(gw.port, '/proxy');
  raw.socket.destroy(); // the gateway sees an abrupt end: its 1006 stays in its log, never on a wire
  await sessionsDrained(gw.gateway);
});

test('a plugin asking for 1005/1006/1015 cannot put them on the wire', { timeout: 30_000 }, async () => {
  for (const code of RESERVED) {
    const codes = await scenario(`/plugin?code=${code}`, () => {});
    assert.ok(codes.length <= 1, `${code}: ${codes}`);
  }
  assert.deepEqual(await scenario('/plugin?code=4321', () => {}), [4321]);
  await sessionsDrained(gw.gateway);
});
