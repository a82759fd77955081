// The one way tests wait for something no event announces: poll a condition
// until it holds, and give up after a bound with a reason, so a test fails
// saying what it waited for instead of hanging until its own timeout.
import { setTimeout as sleep } from 'node:timers/promises';

export interface UntilOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** What is awaited, for the error; a function to report the state seen last. */
  what: string | (() => string);
  /** Pause between two checks (default 10 ms); longer for checks that start a process or do a request. */
  everyMs?: number;
}

/**
 * Checks `condition` (sync or async) until it returns a truthy value, and
 * resolves with that value; rejects after `timeoutMs`. An error thrown by
 * `condition` rejects at once.
 */
export async function until<T>(condition: () => T | Promise<T>, { timeoutMs, what, everyMs = 10 }: UntilOptions): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${typeof what === 'function' ? what() : what}`);
    await sleep(everyMs);
  }
}

/**
 * Resolves once `value()` has not changed for `quietMs` (sampled every
 * `everyMs`), i.e. whatever moves it has stopped; rejects after `timeoutMs`.
 * Resolves with the value it settled on.
 */
export async function untilSteady<T>(value: () => T, opts: UntilOptions & { quietMs: number }): Promise<T> {
  let last = value();
  let since = Date.now();
  await until(() => {
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
    return Date.now() - since >= opts.quietMs;
  }, opts);
  return last;
}
