// Holds the idle scenario's client WebSockets in a process of their own: with
// a 20000 fd hard limit the harness cannot keep 10,000 clients plus the
// 10,000 backend sockets it accepts. Spawned by spawnIdleClients() with an
// IPC channel; a lost channel (the harness died) ends it.
// Child usage: node dist/bench/idle-clients.js <url> <count> <parallel>
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { openWs } from './client.js';
import { pool } from './util.js';

type ToChild = { type: 'count' } | { type: 'close' };
type FromChild = { type: 'open'; open: number } | { type: 'error'; message: string } | { type: 'count'; open: number };

export interface IdleClients {
  /** Resolves once every WebSocket is open; rejects on the first that fails. */
  opened: Promise<void>;
  /** How many are still open. */
  count(): Promise<number>;
  /** Ends the child; the kernel closes its sockets. */
  close(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);

export function spawnIdleClients(url: string, count: number, parallel: number): IdleClients {
  const child = spawn(process.execPath, [SELF, url, String(count), String(parallel)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let exitCode: string | undefined;
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, sig) => {
      exitCode = String(sig ?? code);
      r();
    }),
  );
  const counts: Array<(n: number) => void> = [];
  const opened = new Promise<void>((resolve, reject) => {
    child.on('message', (m: FromChild) => {
      if (m.type === 'open') resolve();
      else if (m.type === 'error') reject(new Error(`idle client: ${m.message}`));
      else counts.shift()?.(m.open);
    });
    child.once('error', (e) => reject(new Error(`idle clients: ${e.message}`)));
    void exited.then(() => reject(new Error(`idle clients exited (${exitCode}) before all were open`)));
  });
  opened.catch(() => {}); // a caller that gave up on it must not crash the harness
  const send = (m: ToChild): void => {
    if (child.connected) child.send(m);
  };
  return {
    opened,
    count: () =>
      new Promise<number>((resolve, reject) => {
        if (!child.connected) return reject(new Error(`idle clients exited (${exitCode})`));
        counts.push(resolve);
        send({ type: 'count' });
      }),
    async close() {
      if (exitCode !== undefined) return;
      send({ type: 'close' });
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function childMain(url: string, count: number, parallel: number): Promise<void> {
  const send = (m: FromChild): void => void process.send?.(m);
  const clients: WebSocket[] = [];
  process.on('message', (m: ToChild) => {
    if (m.type === 'close') process.exit(0);
    send({ type: 'count', open: clients.filter((ws) => ws.readyState === WebSocket.OPEN).length });
  });
  process.on('disconnect', () => process.exit(0));
  try {
    await pool(Array.from({ length: count }), parallel, async () => {
      clients.push(await openWs(url));
    });
    send({ type: 'open', open: clients.length });
  } catch (e) {
    send({ type: 'error', message: (e as Error).message });
  }
}

if (process.argv[1] === SELF) {
  const [url, count, parallel] = process.argv.slice(2);
  void childMain(url!, Number(count), Number(parallel));
}
