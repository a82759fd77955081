// bench/workers.ts's worker producer: `count` binary messages of `size`
// bytes, copied from one reused buffer, or (transfer) each a fresh buffer
// moved to the main thread.
import { serveTasks } from '../src/worker/serve.js';
import type { BenchTask } from './workers-plugin.js';

serveTasks<BenchTask>(async (session, { count, size, transfer }) => {
  const reused = new Uint8Array(size).fill(1);
  for (let n = 0; n < count; n++) {
    if (transfer) await session.send(new Uint8Array(size).fill(1), { transfer: true });
    else await session.send(reused);
  }
});
