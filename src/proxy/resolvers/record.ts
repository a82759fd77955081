// Turns what a store returned (an SQL row, a JSON object, JWT claims) into a
// ResolvedTarget: the host and port fields pick the backend, every other
// non-null field becomes a session parameter (the original module's rule).
import type { ResolvedTarget } from './types.js';

export interface RecordKeys {
  host: string;
  port: string;
  /**
   * A record without these fields still matches, as host '' and port 0 (the
   * route supplies them): its fields are settings (the guacamole handler's).
   */
  optional?: boolean;
}

/** The fields a resolver reads the target from: SQL columns, or JSON fields and claims. */
export interface RecordKeySet {
  sql: RecordKeys;
  json: RecordKeys;
}

/** The original module's columns. */
export const SQL_KEYS: RecordKeys = { host: 'connecthost', port: 'connectport' };
/** websockify's JSON values and JWT claims. */
export const JSON_KEYS: RecordKeys = { host: 'host', port: 'port' };
export const TARGET_KEYS: RecordKeySet = { sql: SQL_KEYS, json: JSON_KEYS };

/** A target from one record, or null if it lacks a usable host or port. */
export function targetFromRecord(record: Record<string, unknown>, keys: RecordKeys): ResolvedTarget | null {
  const missing = (v: unknown) => v === undefined || v === null;
  // Optional keys: a missing field is left for the route to supply ('' and 0).
  const host = keys.optional && missing(record[keys.host]) ? '' : record[keys.host];
  const port = keys.optional && missing(record[keys.port]) ? 0 : Number(record[keys.port]);
  const hostOk = typeof host === 'string' && (host !== '' || keys.optional === true);
  const portOk = Number.isInteger(port) && ((port >= 1 && port <= 65535) || (keys.optional === true && port === 0));
  if (!hostOk || !portOk) return null;
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(record)) {
    if (value === null || value === undefined) continue;
    params[name] = value instanceof Date ? value.toISOString() : typeof value === 'object' && !Buffer.isBuffer(value) ? JSON.stringify(value) : String(value);
  }
  return { host, port, params };
}

/** The original's rule for several rows: the first that has both a host and a port wins. */
export function firstTarget(records: Iterable<Record<string, unknown>>, keys: RecordKeys): ResolvedTarget | null {
  for (const record of records) {
    const target = targetFromRecord(record, keys);
    if (target) return target;
  }
  return null;
}
