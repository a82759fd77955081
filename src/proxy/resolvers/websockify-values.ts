// The target values websockify's token plugins read, shared by the token
// file, Redis and HTTP API resolvers: "host:port" text (IPv6 as "[::1]:5900"
// or, as websockify splits on the last colon, "::1:5900": the rule of
// src/config/host-port.ts) and JSON objects with `host` and `port` (or
// websockify's `{"host": "host:port"}`).
import { ConfigValueError } from '../../config/units.js';
import { parseTarget } from '../../config/host-port.js';
import { JSON_KEYS, targetFromRecord, type RecordKeys } from './record.js';
import type { ResolvedTarget } from './types.js';

/** A target from "host:port" text, or null. */
export function targetFromText(text: string): ResolvedTarget | null {
  const hp = hostPortOrNull(text);
  return hp && { host: hp.host, port: hp.port, params: {} };
}

/**
 * A target from a parsed JSON value: `{"host": "h", "port": 5900, ...}` (every
 * non-null field becomes a parameter) or websockify's `{"host": "h:5900"}`.
 */
export function targetFromJson(value: unknown, keys: RecordKeys = JSON_KEYS): ResolvedTarget | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (keys !== JSON_KEYS) return targetFromRecord(record, keys);
  if (record.port === undefined || record.port === null) {
    if (typeof record.host !== 'string') return null;
    const hp = hostPortOrNull(record.host);
    if (!hp) return null;
    return targetFromRecord({ ...record, host: hp.host, port: hp.port }, JSON_KEYS);
  }
  return targetFromRecord(record, JSON_KEYS);
}

function hostPortOrNull(text: string): { host: string; port: number } | null {
  try {
    return parseTarget(text);
  } catch (e) {
    if (e instanceof ConfigValueError) return null;
    throw e;
  }
}
