// A value built from one file or a directory of files (token files, key
// files), rebuilt when they change, without a restart and without making a
// lookup wait for the disk:
//  - lookups read the value from memory (`value`), never touching the disk;
//  - fs.watch (inotify on Linux) triggers an asynchronous reload ~30 ms after
//    a change (a burst of writes gives one reload);
//  - as a fallback for filesystems that send no events (NFS, some overlay and
//    container mounts) or a watcher that failed, a lookup starts an
//    asynchronous stat of the files at most once per `checkEveryMs`; if
//    inode, size or mtime changed, the files are read again. An edit is thus
//    seen by lookups at most ~1 s (plus the read) after it;
//  - a reload that fails (file missing, a bad line) keeps the last good value
//    and logs a warning naming the file and line; it is retried when the
//    files change again.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../observability/logger.js';

export interface FileText {
  /** The file's path as configured (a directory's files: directory/name). */
  file: string;
  text: string;
}

export interface ReloadingOptions<T> {
  /** A file, or a directory whose regular files are all read, in name order (dotfiles and `name~` backups skipped). */
  path: string;
  /** Builds the value; throws (naming the file and line) if the files are not valid. */
  parse(files: FileText[]): T;
  log: Logger;
  /** What the files are, for logs: "token file", "JWT key". */
  what: string;
  /** Use fs.watch as well as the stat check (default true). */
  watch?: boolean;
  checkEveryMs?: number;
}

/** Editor swap files and backups in a directory of token files are not token files. */
const skipped = (name: string): boolean => name.startsWith('.') || name.endsWith('~');

export class ReloadingFiles<T> {
  #value: T;
  #signature: string;
  readonly #opts: ReloadingOptions<T>;
  readonly #checkEveryMs: number;
  #lastCheck = Date.now();
  #running: Promise<void> | null = null;
  #again = false;
  #watcher: FSWatcher | null = null;
  #debounce: NodeJS.Timeout | null = null;
  #closed = false;

  private constructor(opts: ReloadingOptions<T>, value: T, signature: string) {
    this.#opts = opts;
    this.#value = value;
    this.#signature = signature;
    this.#checkEveryMs = opts.checkEveryMs ?? 1000;
  }

  /** Reads and parses the files once; rejects (with the reason) if they are missing or invalid. */
  static async open<T>(opts: ReloadingOptions<T>): Promise<ReloadingFiles<T>> {
    const { signature, files } = await snapshot(opts.path);
    const source = new ReloadingFiles(opts, opts.parse(await readAll(files)), signature);
    if (opts.watch !== false) source.#startWatching(files.isDir);
    return source;
  }

  /** The last good value; starts a background change check if one is due. */
  get value(): T {
    if (!this.#closed && Date.now() - this.#lastCheck >= this.#checkEveryMs) void this.#refresh(false);
    return this.#value;
  }

  /** Resolves once no reload is running (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#debounce) clearTimeout(this.#debounce);
  }

  /** One reload at a time; a request during a reload runs one more afterwards. */
  #refresh(force: boolean): Promise<void> {
    this.#lastCheck = Date.now();
    if (this.#running) {
      this.#again ||= force;
      return this.#running;
    }
    this.#running = this.#reload(force).finally(() => {
      this.#running = null;
      if (this.#again && !this.#closed) {
        this.#again = false;
        void this.#refresh(true);
      }
    });
    return this.#running;
  }

  async #reload(force: boolean): Promise<void> {
    const { log, what } = this.#opts;
    let signature = 'unreadable';
    try {
      const snap = await snapshot(this.#opts.path);
      signature = snap.signature;
      if (!force && signature === this.#signature) return;
      const value = this.#opts.parse(await readAll(snap.files));
      if (this.#closed) return;
      this.#value = value;
      log.info({ path: this.#opts.path }, `${what} reloaded`);
    } catch (err) {
      // Warn once per broken state, not on every check while it stays broken.
      if (force || signature !== this.#signature) log.warn({ path: this.#opts.path, err: (err as Error).message }, `${what} not reloaded, keeping the last good one`);
    }
    this.#signature = signature;
  }

  #startWatching(isDir: boolean): void {
    // A file is watched through its directory: editors and deploy tools
    // replace files by renaming, which a watch on the old inode would miss.
    const dir = isDir ? this.#opts.path : path.dirname(this.#opts.path);
    const base = path.basename(this.#opts.path);
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, name) => {
        const file = name === null ? null : String(name);
        if (isDir ? file !== null && skipped(file) : file !== null && file !== base) return;
        if (this.#debounce) clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => void this.#refresh(true), 30);
        this.#debounce.unref();
      });
      this.#watcher.on('error', (err) => {
        this.#opts.log.warn({ path: dir, err: err.message }, `cannot watch ${this.#opts.what}; checking it every ${this.#checkEveryMs} ms instead`);
        this.#watcher?.close();
        this.#watcher = null;
      });
    } catch (err) {
      this.#opts.log.warn({ path: dir, err: (err as Error).message }, `cannot watch ${this.#opts.what}; checking it every ${this.#checkEveryMs} ms instead`);
    }
  }
}

interface FileList {
  isDir: boolean;
  paths: string[];
}

/** The files behind `source` and a signature that changes when any of them does. */
async function snapshot(source: string): Promise<{ signature: string; files: FileList }> {
  const top = await stat(source);
  if (!top.isDirectory()) {
    return { signature: `${top.ino}:${top.size}:${top.mtimeMs}`, files: { isDir: false, paths: [source] } };
  }
  const names = (await readdir(source)).filter((n) => !skipped(n)).sort();
  const parts: string[] = [];
  const paths: string[] = [];
  for (const name of names) {
    const file = path.join(source, name);
    const st = await stat(file).catch(() => null); // gone since readdir, or a dangling link
    if (!st?.isFile()) continue;
    paths.push(file);
    parts.push(`${name}:${st.ino}:${st.size}:${st.mtimeMs}`);
  }
  return { signature: parts.join('/'), files: { isDir: true, paths } };
}

async function readAll(files: FileList): Promise<FileText[]> {
  return Promise.all(files.paths.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
}
