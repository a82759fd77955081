// A route's `record:` block and the per-session Recorder the relay feeds.
//   record: { dir: DIR, format: novnc | fbs | guac, inputs: false, gzip: false, maxBuffer: 8MiB }
// or websockify's naming, `file: PREFIX` (--record): PREFIX.1, PREFIX.2, ...
// counted per process. A Recorder never throws into the relay and never
// waits: a format that cannot go on, a slow or full disk, cut the recording only.
import { openSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../../observability/logger.js';
import { ConfigValueError, parseSize } from '../../config/units.js';
import { RecordingFile } from './recording-file.js';
import { RecordingFormatError, type RecordingFormat } from './format.js';
import { novncRecording } from './novnc-recording.js';
import { fbsRecording } from './fbs-recording.js';
import { guacRecording } from './guac-recording.js';

export const RECORD_FORMATS = ['novnc', 'fbs', 'guac'] as const;
export type RecordFormatName = (typeof RECORD_FORMATS)[number];

const EXTENSIONS: Record<RecordFormatName, string> = { novnc: 'js', fbs: 'fbs', guac: 'guac' };

export const recordSchema = {
  type: 'object',
  properties: {
    dir: { type: 'string', minLength: 1 },
    file: { type: 'string', minLength: 1 },
    format: { enum: [...RECORD_FORMATS] },
    inputs: { type: 'boolean' },
    gzip: { type: 'boolean' },
    maxBuffer: { type: ['string', 'number'] },
  },
  additionalProperties: false,
} as const;

export interface RecordBlock {
  dir?: string;
  file?: string;
  format?: RecordFormatName;
  inputs?: boolean;
  gzip?: boolean;
  maxBuffer?: string | number;
}

export interface RecordSettings {
  /** A directory for `<time>-<session id>.<ext>` files, or websockify's `PREFIX.<n>`. */
  where: { dir: string } | { prefix: string };
  format: RecordFormatName;
  inputs: boolean;
  gzip: boolean;
  maxBuffered: number;
}

/** The session's side: what the relay calls. */
export interface Recorder {
  toClient(bytes: Uint8Array): void;
  fromClient(bytes: Uint8Array): void;
  /** The session ended: the trailer goes in, the file is closed when written. */
  end(): void;
  readonly file: RecordingFile;
}

/** Per process, as websockify's handler ids: the n of PREFIX.n. */
let sequence = 0;

/**
 * A route's `record:` block, checked (the directory is made, mode 0700, if missing); a bad
 * field is reported through `invalid`. `formats` are the ones the route's traffic can be written in.
 */
export function routeRecording(block: RecordBlock, invalid: (field: string[], message: string) => never, baseDir: string, formats: readonly RecordFormatName[]): RecordSettings {
  try {
    const settings = recordSettings(block, baseDir, formats[0]!);
    if (!formats.includes(settings.format)) invalid(['record', 'format'], `this route records ${formats.join(' or ')}`);
    return settings;
  } catch (e) {
    if (e instanceof RecordFieldError) invalid(['record', e.field], e.message);
    if (e instanceof ConfigValueError) invalid(['record', 'maxBuffer'], e.message);
    throw e;
  }
}

function recordSettings(block: RecordBlock, baseDir: string, defaultFormat: RecordFormatName): RecordSettings {
  if ((block.dir === undefined) === (block.file === undefined)) throw fieldError('dir', 'give either dir (one file per session, named by its id) or file (websockify\'s FILE.<n>)');
  const format = block.format ?? defaultFormat;
  let where: RecordSettings['where'];
  if (block.dir !== undefined) {
    const dir = resolve(baseDir, block.dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw fieldError('dir', `${dir} is not a directory`);
    where = { dir };
  } else {
    where = { prefix: resolve(baseDir, block.file!) };
  }
  return { where, format, inputs: block.inputs ?? false, gzip: block.gzip ?? false, maxBuffered: block.maxBuffer === undefined ? 8 * 1024 * 1024 : parseSize(block.maxBuffer) };
}

export class RecordFieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}
function fieldError(field: string, message: string): RecordFieldError {
  return new RecordFieldError(field, message);
}

function makeFormat(s: RecordSettings): RecordingFormat {
  if (s.format === 'fbs') return fbsRecording();
  if (s.format === 'guac') return guacRecording(s.inputs);
  return novncRecording(s.inputs);
}

/** Opens the session's recording; null (and a log line) if the file cannot be made. */
export function startRecording(s: RecordSettings, sid: string, log: Logger): Recorder | null {
  const gz = s.gzip ? '.gz' : '';
  let file: RecordingFile;
  try {
    if ('dir' in s.where) {
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
      file = new RecordingFile(join(s.where.dir, `${stamp}-${sid}.${EXTENSIONS[s.format]}${gz}`), { gzip: s.gzip, maxBuffered: s.maxBuffered, log, sid });
    } else {
      // An existing PREFIX.n (an earlier run, another worker) is skipped, never overwritten.
      for (;;) {
        const path = `${s.where.prefix}.${++sequence}${gz}`;
        let fd: number;
        try {
          fd = openSync(path, 'wx', 0o600);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
          throw e;
        }
        file = new RecordingFile(path, { gzip: s.gzip, maxBuffered: s.maxBuffered, log, sid }, fd);
        break;
      }
    }
  } catch (e) {
    log.warn({ sid, reason: (e as Error).message }, 'recording not started');
    return null;
  }
  log.info({ sid, file: file.path, format: s.format, inputs: s.inputs }, 'recording');
  const format = makeFormat(s);
  const started = Date.now();
  const feedClient = s.inputs || format.readsClient;
  const apply = (fn: () => Buffer | string | null) => {
    if (!file.isOpen) return;
    try {
      const out = fn();
      if (out !== null && out.length) file.write(out);
    } catch (e) {
      file.cut(e instanceof RecordingFormatError ? e.message : `recording failed: ${(e as Error).message}`);
    }
  };
  if (format.header.length) file.write(format.header);
  return {
    file,
    toClient: (bytes) => apply(() => format.toClient(Date.now() - started, bytes)),
    fromClient: (bytes) => {
      if (feedClient) apply(() => format.fromClient(Date.now() - started, bytes));
    },
    end: () => {
      file.end(format.trailer);
      void file.done.then(() => {
        if (!file.cutReason) log.debug({ sid, file: file.path }, 'recording closed');
      });
    },
  };
}
