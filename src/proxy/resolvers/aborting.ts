// Lookups must stop waiting the moment the gateway gives up on them (lookup
// timeout, client gone). Stores whose clients take no AbortSignal are raced
// against it; whatever they return later is dropped.
import { StoreError } from './types.js';

export function abortError(store: string, signal: AbortSignal): StoreError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
  return new StoreError(store, `lookup aborted (${reason})`);
}

export function throwIfAborted(signal: AbortSignal, store: string): void {
  if (signal.aborted) throw abortError(store, signal);
}

/**
 * `work`, or a StoreError as soon as `signal` aborts. A value that arrives
 * after the abort goes to `onLate` (to release a pool connection); a late
 * failure is swallowed, never left unhandled.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, store: string, onLate?: (value: T) => void): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(store, signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) onLate?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
