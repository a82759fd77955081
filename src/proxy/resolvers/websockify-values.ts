// The target values websockify's token plugins read, shared by the token
// file, Redis and HTTP API resolvers: "host:port" text (IPv6 as "[::1]:5900"
// or, as websockify splits on the last colon, "::1:5900") and JSON objects
// with `host` and `port` (or websockify's `{"host": "host:port"}`).
import { JSON_KEYS, targetFromRecord } from './record.js';
import type { ResolvedTarget } from './types.js';

/** "host:port" → host and port, or a reason it is not one. */
export function splitHostPort(text: string): { host: string; port: number } | { error: string } {
  const value = text.trim();
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]\s]+)\]:([^:]*)$/.exec(value);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) return { error: 'expected host:port' };
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
  }
  if (host === '' || /[\s[\]]/.test(host)) return { error: `bad host "${host}"` };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return { error: `bad port "${portText}"` };
  return { host, port };
}

/** A target from "host:port" text, or null. */
export function targetFromText(text: string): ResolvedTarget | null {
  const hp = splitHostPort(text);
  return 'error' in hp ? null : { host: hp.host, port: hp.port, params: {} };
}

/**
 * A target from a parsed JSON value: `{"host": "h", "port": 5900, ...}` (every
 * non-null field becomes a parameter) or websockify's `{"host": "h:5900"}`.
 */
export function targetFromJson(value: unknown): ResolvedTarget | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (record.port === undefined || record.port === null) {
    if (typeof record.host !== 'string') return null;
    const hp = splitHostPort(record.host);
    if ('error' in hp) return null;
    return targetFromRecord({ ...record, host: hp.host, port: hp.port }, JSON_KEYS);
  }
  return targetFromRecord(record, JSON_KEYS);
}
