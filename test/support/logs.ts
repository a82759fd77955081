// Log lines as tests read them: a logger that keeps its lines in memory (for
// a gateway in this process), a CLI's output split into lines, and a check
// that a line does not repeat a key (pino writes a child's bindings and the
// line's own fields side by side, so nothing stops a key appearing twice).
import { pino, type Logger } from 'pino';
import { until } from './until.js';

export interface LogLine {
  level: number;
  msg?: string;
  [field: string]: unknown;
}

/** Every non-empty line of `text` as JSON; throws naming a line that is not. */
export function parseLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        throw new Error(`not a JSON log line: ${l}`);
      }
    });
}

export interface CapturedLog {
  log: Logger;
  /** The lines as written. */
  readonly raw: string[];
  lines(): LogLine[];
  /** Resolves once some line satisfies `match` (rejects after `timeoutMs`). */
  waitFor(match: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine>;
}

/** A logger like the gateway's own (same base fields and time format) that keeps every line. */
export function capturedLog(level = 'trace'): CapturedLog {
  const raw: string[] = [];
  const log = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, { write: (line: string) => void raw.push(line.trimEnd()) });
  const lines = () => parseLines(raw.join('\n'));
  return {
    log,
    raw,
    lines,
    async waitFor(match, timeoutMs, what) {
      await until(() => lines().some(match), { timeoutMs, what });
      return lines().find(match)!;
    },
  };
}

/** The keys that appear more than once at the top level of one JSON line. */
export function repeatedKeys(line: string): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let end = i + 1;
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      let next = end + 1;
      while (line[next] === ' ') next++;
      if (depth === 1 && line[next] === ':') {
        const key = JSON.parse(line.slice(i, end + 1)) as string;
        (seen.has(key) ? repeated : seen).add(key);
      }
      i = end;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return [...repeated];
}
