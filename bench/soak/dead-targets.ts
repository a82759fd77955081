// Backends that fail before a session starts: a port nobody listens on
// (connect is refused at once) and one that never accepts (connect hangs).
//
// The hanging one is real, not simulated: a listener with a backlog of 1 in
// a process whose event loop is blocked, so nothing ever accepts. Once its
// accept queue holds two connections (our fillers), Linux drops further SYNs
// and every connect() to it hangs until the dialer gives up.
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { killOnExit } from './children.js';

/** A loopback port that was free a moment ago and that nothing listens on now. */
export async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const NEVER_ACCEPTS = `
const s = require('node:net').createServer();
s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(s.address().port + '\\n', () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // block the loop: no accept, ever
  });
});`;

export interface HangingTarget {
  port: number;
  /** Kills the listener process and drops the fillers. */
  close(): void;
}

export async function hangingTarget(): Promise<HangingTarget> {
  const child: ChildProcess = spawn(process.execPath, ['-e', NEVER_ACCEPTS], { stdio: ['ignore', 'pipe', 'inherit'] });
  killOnExit(child); // blocked for good: it would never notice the harness is gone
  const fillers: net.Socket[] = [];
  const close = (): void => {
    for (const f of fillers) f.destroy();
    child.kill('SIGKILL');
  };
  try {
    const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => [Buffer.from('')])])) as [Buffer];
    const port = Number(line.toString().trim());
    if (!port) throw new Error('the never-accepting listener did not start');
    // Fill the accept queue until a connect no longer completes: from then on SYNs are dropped.
    for (let i = 0; i < 16; i++) {
      const s = net.connect(port, '127.0.0.1').on('error', () => {});
      fillers.push(s);
      const connected = await Promise.race([once(s, 'connect').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
      if (!connected) {
        s.destroy();
        return { port, close };
      }
    }
    throw new Error('the never-accepting listener kept accepting (16 connections)');
  } catch (e) {
    close();
    throw e;
  }
}
