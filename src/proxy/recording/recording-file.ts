// One recording on disk. The relay hands it bytes synchronously and must
// never wait for the disk: writes go through a bounded in-memory buffer to an
// async file stream (through zlib when gzipped). When the buffer is over its
// bound (the disk cannot keep up) or a write fails (ENOSPC, EIO...), the
// recording is cut: the streams are closed, one log line says why, and
// later writes are dropped. The session never notices.
import { createWriteStream, type WriteStream } from 'node:fs';
import { createGzip, type Gzip } from 'node:zlib';
import type { Logger } from '../../observability/logger.js';

export interface RecordingFileOptions {
  /** Compress the file as a gzip stream. */
  gzip: boolean;
  /** Bytes that may wait for the disk before the recording is cut. */
  maxBuffered: number;
  log: Logger;
  /** The session id, for the log lines. */
  sid: string;
}

export class RecordingFile {
  readonly path: string;
  private readonly file: WriteStream;
  private readonly gzip: Gzip | null;
  private readonly opts: RecordingFileOptions;
  private state: 'open' | 'ended' | 'cut' = 'open';
  /** Why the recording was cut, if it was. */
  cutReason: string | null = null;
  /** Resolves when the file is closed, however it ended. */
  readonly done: Promise<void>;

  /**
   * Creates `path` (it must not exist: an older recording is never overwritten), mode 0600;
   * or writes to `fd`, already opened as `path`.
   */
  constructor(path: string, opts: RecordingFileOptions, fd?: number) {
    this.path = path;
    this.opts = opts;
    this.file = fd === undefined ? createWriteStream(path, { flags: 'wx', mode: 0o600 }) : createWriteStream(path, { fd });
    this.gzip = opts.gzip ? createGzip() : null;
    this.done = new Promise((resolve) => this.file.once('close', resolve));
    this.file.on('error', (err: NodeJS.ErrnoException) => this.cut(`write failed: ${err.code ?? err.message}`));
    if (this.gzip) {
      this.gzip.on('error', (err) => this.cut(`compression failed: ${err.message}`));
      this.gzip.pipe(this.file);
    }
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Bytes accepted and not yet handed to the kernel. */
  get buffered(): number {
    const g = this.gzip;
    return this.file.writableLength + (g ? g.writableLength + g.readableLength : 0);
  }

  /** Queues `data` (copied or encoded by the caller: it is kept until written). */
  write(data: Buffer | string): void {
    if (this.state !== 'open') return;
    (this.gzip ?? this.file).write(data);
    if (this.buffered > this.opts.maxBuffered) this.cut(`the disk did not keep up (over ${this.opts.maxBuffered} bytes waiting)`);
  }

  /** Writes `trailer` and closes the file once everything queued is on disk. */
  end(trailer?: Buffer | string): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    const head = this.gzip ?? this.file;
    if (trailer !== undefined) head.end(trailer);
    else head.end();
  }

  /** Stops recording: the file keeps what was written so far; what is queued is dropped. */
  cut(reason: string): void {
    if (this.state === 'cut') return;
    const wasEnded = this.state === 'ended';
    this.state = 'cut';
    this.cutReason = reason;
    this.gzip?.unpipe(this.file);
    this.gzip?.destroy();
    this.file.destroy();
    this.opts.log.warn({ sid: this.opts.sid, file: this.path, reason, afterEnd: wasEnded || undefined }, 'recording cut');
  }
}
