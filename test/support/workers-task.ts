// What the test plugin's producers do on their worker thread, by `task`:
//   big        `messages` streamed messages of `size` bytes in `chunk`-byte fragments,
//              every byte a function of (producer, message, offset); every other
//              fragment moved (transfer), the rest copied from one reused buffer
//   small      `count` text messages "p<producer>:<n>", n = count..1
//   flood      16 KiB binary messages until a send rejects (the session closed)
//   throw      begins a stream, writes 3 fragments, then throws
//   exit       begins a stream, writes a fragment, then process.exit(7)
//   uncaught   begins a stream, writes a fragment, then throws from a timer
//   oversize   one binary message of `size` bytes (may exceed the credit window), then 3 texts
//   misuse     checks that send()/stream() while a stream is open are refused, then ends normally
//   after-close  closes the session, then checks that send() and write() reject with
//              SessionClosedError (so the producer ends 'closed'; anything else throws)
//   long-reason  closes the session with 4001 and a reason of 200 bytes (100 × "é")
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SessionClosedError } from '../../src/session/errors.js';
import { serveTasks } from '../../src/worker/serve.js';
import { patternByte } from './workers-pattern.js';

interface Task {
  task: string;
  producer: number;
  [param: string]: string | number;
}

function fill(buf: Uint8Array, producer: number, m: number, from: number): void {
  for (let i = 0; i < buf.length; i++) buf[i] = patternByte(producer, m, from + i);
}

serveTasks<Task>(async (session, t) => {
  const p = t.producer;
  switch (t.task) {
    case 'big': {
      const size = Number(t.size ?? 8 * 1024 * 1024);
      const chunk = Number(t.chunk ?? 64 * 1024);
      const reused = new Uint8Array(chunk);
      for (let m = 0; m < Number(t.messages ?? 1); m++) {
        const stream = session.stream(true);
        for (let off = 0, k = 0; off < size; off += chunk, k++) {
          const n = Math.min(chunk, size - off);
          // Moved fragments get a fresh buffer; copied ones reuse one buffer, refilled as soon as write() resolves.
          const buf = k % 2 === 0 ? new Uint8Array(n) : reused.subarray(0, n);
          fill(buf, p, m, off);
          await stream.write(buf, { transfer: k % 2 === 0 });
        }
        await stream.end();
      }
      return;
    }
    case 'small':
      for (let n = Number(t.count ?? 100); n >= 1; n--) await session.send(`p${p}:${n}`);
      return;
    case 'flood': {
      const payload = new Uint8Array(16 * 1024).fill(p);
      for (;;) await session.send(payload);
    }
    case 'throw': {
      const stream = session.stream(true);
      for (let i = 0; i < 3; i++) await stream.write(new Uint8Array(1024).fill(i));
      session.flush();
      await sleep(50); // let the fragments reach the client first
      throw new Error('boom mid-stream');
    }
    case 'exit': {
      const stream = session.stream(true);
      await stream.write(new Uint8Array(1024));
      session.flush();
      await sleep(50);
      process.exit(7);
    }
    case 'uncaught': {
      const stream = session.stream(true);
      await stream.write(new Uint8Array(1024));
      session.flush();
      setTimeout(() => {
        throw new Error('uncaught in a timer');
      }, 50);
      await new Promise(() => {}); // never settles: the thread dies first
      return;
    }
    case 'oversize':
      await session.send(new Uint8Array(Number(t.size)).fill(p));
      for (let n = 3; n >= 1; n--) await session.send(`p${p}:${n}`);
      return;
    case 'misuse': {
      const stream = session.stream(false);
      await stream.write('a');
      await assert.rejects(session.send('x'), /stream open/);
      assert.throws(() => session.stream(), /already has a stream open/);
      await stream.end('b');
      await session.send('after');
      return;
    }
    case 'after-close': {
      const stream = session.stream(true);
      await stream.write(new Uint8Array(10));
      await stream.end();
      await session.close(4000, 'closed by the worker');
      await assert.rejects(session.send('late'), (e: Error) => e instanceof SessionClosedError && /is closed; nothing more can be sent/.test(e.message));
      await assert.rejects(session.stream().write('late'), SessionClosedError);
      assert.ok(session.signal.aborted, 'signal aborts once the session has closed');
      return; // the session has closed, so this producer ends 'closed'
    }
    case 'long-reason':
      await session.close(4001, 'é'.repeat(100));
      return;
    default:
      throw new Error(`unknown task ${t.task}`);
  }
});
