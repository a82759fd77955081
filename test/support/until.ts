// Polls a condition every 10 ms; rejects after timeoutMs, so a test fails with a reason instead of hanging.
import { setTimeout as sleep } from 'node:timers/promises';

export async function until(condition: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}
