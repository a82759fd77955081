// Fresh directories for the files a test writes (configs, keys, sockets,
// databases), removed with everything in them when their owner ends, so no
// test has to remember its own cleanup.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Cleanup = () => void;

/**
 * Who removes the directory: a test's context `t` (when that test ends), or
 * node:test's `after`, called at a file's top level (when the file's tests
 * end; `after` called inside a `before` hook would run at once).
 */
export type DirOwner = { after(fn: Cleanup): void } | ((fn: Cleanup) => void);

/**
 * A new empty directory, wsgate-<name>-XXXXXX under the OS temp dir. Hooks
 * run in the order they were registered, so it is removed before any
 * cleanup registered after this call.
 */
export function tempDir(owner: DirOwner, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `wsgate-${name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  if (typeof owner === 'function') owner(remove);
  else owner.after(remove);
  return dir;
}
