import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, connect, closed, startBackend } from './helpers.js';
import { once } from 'node:events';

test('echo route echoes text and binary, tcp-proxy relays', async () => {
  const backend = await startBackend((s) => s.pipe(s));
  const gw = await startGateway({
    routes: [
      { path: '/echo', handler: 'echo' },
      { path: '/vnc', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}` },
    ],
  });
  try {
    const ws = await connect(gw.url('/echo'));
    ws.send('héllo');
    const [text, isBinary] = await once(ws, 'message');
    assert.equal(text.toString(), 'héllo');
    assert.equal(isBinary, false);
    ws.close();
    await closed(ws);
    const p = await connect(gw.url('/vnc'));
    p.send(Buffer.from([1, 2, 3]));
    const [data, bin] = await once(p, 'message');
    assert.deepEqual([...data], [1, 2, 3]);
    assert.equal(bin, true);
    p.close();
    await closed(p);
  } finally {
    await gw.stop();
    await backend.close();
  }
});
