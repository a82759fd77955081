// The 101 carries exactly the subprotocol and headers the handler's connect()
// chose for that request, also when many handshakes are in flight at once
// and settle in another order than they began.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { startGateway, closed, type RunningGateway } from './support/index.js';

const PLUGIN = './dist/test/support/decision-plugin.js';

let gw: RunningGateway;
before(async () => {
  gw = await startGateway({ routes: [{ path: '/d', handler: PLUGIN }] });
});
after(async () => {
  await gw.stop();
});

test('40 handshakes at once, settling in reverse order: each gets the protocol and header chosen for it', { timeout: 20_000 }, async () => {
  const n = 40;
  const offered = ['one', 'two', 'three'];
  const clients = Array.from({ length: n }, (_, i) => {
    const chosen = offered[1 + (i % 2)]!; // never the first offered, which is what `ws` picks by default
    const ws = new WebSocket(gw.url(`/d?p=${chosen}&tag=t${i}&wait=${(n - i) * 5}`), offered);
    const upgraded = once(ws, 'upgrade') as Promise<[IncomingMessage]>;
    return { ws, chosen, tag: `t${i}`, upgraded, opened: once(ws, 'open') };
  });
  for (const c of clients) {
    const [res] = await c.upgraded;
    await c.opened;
    assert.equal(c.ws.protocol, c.chosen);
    assert.equal(res.headers['x-tag'], c.tag);
  }
  for (const c of clients) c.ws.close();
  await Promise.all(clients.map((c) => closed(c.ws)));
});
