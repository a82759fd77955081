// The close code the log names is the one `ws` put on the wire, for every
// receiver error ws has (it used to say 1002 for all but 1007 and 1009).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WS_ERROR_CLOSE_CODES } from '../src/session/close-codes.js';
import { encodeFrame, rawWebSocket, spawnCli, tempDir } from './support/index.js';
import { until } from './support/until.js';

test('the table names every error ws can close with, with its code (read from ws itself)', () => {
  // ws exports no subpaths: find its folder from the package entry.
  const wsMain = createRequire(import.meta.url).resolve('ws');
  const receiver = readFileSync(join(dirname(wsMain), 'lib', 'receiver.js'), 'utf8');
  // createError(ErrorCtor, message, prefix, statusCode, errorCode)
  const fromWs: Record<string, number> = {};
  for (const m of receiver.matchAll(/createError\(\s*\w+,[\s\S]*?,\s*(?:true|false),\s*(\d{4}),\s*'(WS_ERR_\w+)'\s*\)/g)) fromWs[m[2]!] = Number(m[1]);
  assert.ok(Object.keys(fromWs).length >= 10, 'found the errors in ws');
  assert.deepEqual({ ...WS_ERROR_CLOSE_CODES }, fromWs);
});

async function echoGateway(t: TestContext) {
  const dir = tempDir(t, 'wserr');
  const file = join(dir, 'gw.yaml');
  await writeFile(file, 'listen: 127.0.0.1:0\nroutes:\n  - path: /echo\n    handler: echo\n');
  const cli = await spawnCli(['--config', file]);
  return {
    port: cli.port,
    output: cli.output,
    stop: async () => {
      cli.child.kill('SIGTERM');
      await cli.exited;
    },
  };
}

async function closeCodes(gw: Awaited<ReturnType<typeof echoGateway>>, bytes: Buffer): Promise<{ wire: number; logged: number }> {
  const before = gw.output().split('"msg":"session closed"').length;
  const ws = await rawWebSocket(gw.port, '/echo');
  ws.socket.write(bytes);
  let frame = await ws.nextFrame();
  while (frame.opcode !== 8) frame = await ws.nextFrame();
  ws.socket.destroy();
  await until(() => gw.output().split('"msg":"session closed"').length > before, { timeoutMs: 5000, what: 'the session closed line' });
  const line = gw.output().split('\n').filter((l) => l.includes('"msg":"session closed"')).at(-1)!;
  return { wire: frame.payload.readUInt16BE(0), logged: (JSON.parse(line) as { code: number }).code };
}

test('too many fragments: 1008 on the wire and in the log', async (t) => {
  const gw = await echoGateway(t);
  t.after(gw.stop);
  const frames = [encodeFrame(1, 'a', { fin: false })];
  for (let i = 0; i < 16_384; i++) frames.push(encodeFrame(0, 'a', { fin: false }));
  const codes = await closeCodes(gw, Buffer.concat(frames));
  assert.deepEqual(codes, { wire: 1008, logged: 1008 });
});

test('a frame length over 2^53 - 1: 1009 on the wire and in the log', async (t) => {
  const gw = await echoGateway(t);
  t.after(gw.stop);
  // FIN + binary, MASK + 127, then a 64-bit length of 2^53, then the mask key.
  const head = Buffer.from([0x82, 0xff, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  const codes = await closeCodes(gw, head);
  assert.deepEqual(codes, { wire: 1009, logged: 1009 });
});
