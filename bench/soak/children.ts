// Processes the soak starts (gateways, the never-accepting listener) die with
// it: on any exit of the harness, even a thrown error, each one still running
// is killed, and the gateways' config folders are removed, so nothing of a
// failed run is left behind.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const live = new Set<ChildProcess>();
const folders = new Set<string>();

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Removes `dir` when the harness exits (unless done() was called first). */
export function removeOnExit(dir: string): { done(): void } {
  folders.add(dir);
  return {
    done: () => {
      folders.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
