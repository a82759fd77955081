// Lookups must stop waiting the moment the gateway gives up on them (lookup
// timeout, client gone). Stores whose clients take no AbortSignal are raced
// against it; whatever they return later is dropped.
import { StoreError } from './types.js';

function abortError(store: string, signal: AbortSignal): StoreError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
  return new StoreError(store, `lookup aborted (${reason})`);
}

export function throwIfAborted(signal: AbortSignal, store: string): void {
  if (signal.aborted) throw abortError(store, signal);
}

/** `work`, or a StoreError as soon as `signal` aborts. */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal, store: string): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {}); // its late failure is nobody's business now
    return Promise.reject(abortError(store, signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(store, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
