// `wsgate replay FILE --port P`: serves a recording as a WebSocket server.
// Every client that connects (any path; `binary` is chosen if offered) gets
// the recorded server->client frames at the recorded pace (--speed N: N
// times faster); what it sends is ignored. After the last frame the
// connection stays open, so a viewer such as noVNC keeps showing the
// recorded session's last picture, until the client leaves (or, with
// --close-at-end, the replay closes with 1000).
// Exit codes: 0 after SIGINT/SIGTERM, 1 when it cannot listen, 2 bad usage.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { createLogger } from '../observability/logger.js';
import { readRecording, type PlaybackFrame } from '../proxy/recording/playback.js';

export const REPLAY_HELP = `Usage: wsgate replay FILE --port PORT [--host HOST] [--speed N] [--close-at-end]

Plays a session recording (noVNC/websockify's format as written by --record or
record: { format: novnc }, or FBS; gzipped or not) to every WebSocket client
that connects, at the recorded pace; the client's messages are ignored. After
the last frame the connection stays open (the viewer keeps the last picture)
until the client leaves.

Options:
  --port PORT     where to listen (0: any free port, logged)
  --host HOST     the address to listen on (default 127.0.0.1)
  --speed N       play N times faster (default 1; 0 = as fast as the client takes it)
  --close-at-end  close the connection (1000) after the last frame
  --log-level L   trace, debug, info (default), warn, error, fatal, silent
  -h, --help      this help
`;

export async function runReplayCommand(argv: string[]): Promise<number> {
  let file: string;
  let port: number;
  let host: string;
  let speed: number;
  let level: string;
  let closeAtEnd: boolean;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { port: { type: 'string' }, host: { type: 'string' }, speed: { type: 'string' }, 'log-level': { type: 'string' }, 'close-at-end': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(REPLAY_HELP);
      return 0;
    }
    if (positionals.length !== 1) throw new Error('give one recording FILE');
    file = positionals[0]!;
    if (values.port === undefined) throw new Error('--port is required');
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: "${values.port}" is not a port number`);
    host = values.host ?? '127.0.0.1';
    speed = values.speed === undefined ? 1 : Number(values.speed);
    if (!Number.isFinite(speed) || speed < 0) throw new Error(`--speed: "${values.speed}" is not a number >= 0`);
    level = values['log-level'] ?? 'info';
    closeAtEnd = values['close-at-end'] ?? false;
  } catch (e) {
    process.stderr.write(`wsgate replay: ${(e as Error).message}\n\n${REPLAY_HELP}`);
    return 2;
  }
  let frames: PlaybackFrame[];
  let format: string;
  try {
    ({ frames, format } = readRecording(readFileSync(file)));
  } catch (e) {
    process.stderr.write(`wsgate replay: ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const log = createLogger(level);
  const http = createServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('wsgate replay: connect with a WebSocket\n'));
  const wss = new WebSocketServer({ server: http, handleProtocols: (offered) => (offered.has('binary') ? 'binary' : false) });
  let n = 0;
  wss.on('connection', (ws, req) => {
    const id = ++n;
    log.info({ client: id, remote: req.socket.remoteAddress }, 'replaying');
    play(ws, frames, speed, closeAtEnd).then(
      (sent) => log.info({ client: id, frames: sent }, 'replay done'),
      (err: Error) => log.info({ client: id, reason: err.message }, 'replay stopped'),
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => resolve());
    });
  } catch (e) {
    process.stderr.write(`wsgate replay: cannot listen on ${host}:${port}: ${(e as Error).message}\n`);
    return 1;
  }
  log.info({ address: http.address(), file, format, frames: frames.length, durationMs: frames.at(-1)?.ms ?? 0 }, 'listening');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  await new Promise((resolve) => http.close(resolve));
  return 0;
}

/** Sends the frames at their times (relative to the connection), each after the previous one was written. */
async function play(ws: WebSocket, frames: PlaybackFrame[], speed: number, closeAtEnd: boolean): Promise<number> {
  const start = Date.now();
  const first = frames[0]?.ms ?? 0;
  let sent = 0;
  const gone = new Promise<never>((_, reject) => ws.once('close', () => reject(new Error('the client went away'))));
  gone.catch(() => {});
  for (const frame of frames) {
    if (speed > 0) {
      const wait = start + (frame.ms - first) / speed - Date.now();
      if (wait > 0) await Promise.race([new Promise((resolve) => setTimeout(resolve, wait)), gone]);
    }
    if (ws.readyState !== ws.OPEN) throw new Error('the client went away');
    await Promise.race([new Promise<void>((resolve, reject) => ws.send(frame.data, { binary: true }, (err) => (err ? reject(err) : resolve()))), gone]);
    sent++;
  }
  if (closeAtEnd) ws.close(1000, 'end of recording');
  return sent;
}
