// The "floor": the least a Node WebSocket-to-TCP relay can do with ws + net.
// Usage: node dist/bench/floor-relay.js <listenPort> <host:port>
import net from 'node:net';
import { WebSocketServer } from 'ws';

const [listenArg, targetArg] = process.argv.slice(2);
if (!listenArg || !targetArg) {
  process.stderr.write('usage: floor-relay <listenPort> <host:port>\n');
  process.exit(2);
}
const sep = targetArg.lastIndexOf(':');
const host = targetArg.slice(0, sep).replace(/^\[|\]$/g, '');
const port = Number(targetArg.slice(sep + 1));

// Pause the TCP side while this much is queued towards the WS client.
const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;

const wss = new WebSocketServer({ port: Number(listenArg) });
wss.on('connection', (ws) => {
  const tcp = net.connect(port, host);
  tcp.setNoDelay(true);

  tcp.on('data', (chunk: Buffer) => {
    ws.send(chunk, () => {
      // Send callbacks fire as ws flushes to the kernel: a cheap drain signal.
      if (tcp.isPaused() && ws.bufferedAmount < LOW_WATER) tcp.resume();
    });
    if (ws.bufferedAmount > HIGH_WATER) tcp.pause();
  });
  ws.on('message', (data) => {
    if (!tcp.write(data as Buffer)) ws.pause();
  });
  tcp.on('drain', () => ws.resume());

  // ws.close() queues the close frame behind any data already sent.
  tcp.on('close', (hadError) => ws.close(hadError ? 1011 : 1000));
  tcp.on('error', () => {}); // 'close' follows and handles it
  ws.on('close', () => tcp.end());
  ws.on('error', () => tcp.destroy());
});
wss.on('listening', () => process.stderr.write(`floor-relay listening on ${listenArg}\n`));
