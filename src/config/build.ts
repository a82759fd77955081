// Turns a raw config object (from YAML or from the CLI, in user units) into
// the validated GatewayConfig. Both entry points go through here so that
// the CLI and the file accept exactly the same things.
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { configSchema, routeCommonSchema } from './schema.js';
import { validateAgainst } from './validate.js';
import { configError, type Locator } from './errors.js';
import { ConfigValueError, parseSeconds, parseSize } from './units.js';
import { parseHostPort } from './host-port.js';
import { readFingerprintKeyFile } from './fingerprint-key.js';
import { gatewayLimits, routePolicy } from './edge-policy.js';
import { HANDSHAKE_DEFAULTS, SESSION_DEFAULTS, type AdminConfig, type GatewayConfig, type ListenAddress, type RouteConfig, type SessionOptions, type WebConfig } from './types.js';

type Raw = Record<string, unknown>;

export function buildConfig(raw: unknown, locate: Locator, baseDir: string): GatewayConfig {
  validateAgainst(configSchema, raw, [], locate);
  const r = raw as Raw;
  const convert = converter(locate);

  const listenRaw = r.listen === undefined ? [8080] : Array.isArray(r.listen) ? r.listen : [r.listen];
  const listen: ListenAddress[] = listenRaw.map((l, i) =>
    convert(Array.isArray(r.listen) ? ['listen', i] : ['listen'], l, (v) => {
      const hp = parseHostPort(String(v), { hostOptional: true });
      if (typeof hp.port !== 'number') throw new ConfigValueError(`listen port must be a number (got "${hp.port}")`);
      return { host: hp.host, port: hp.port };
    }),
  );

  const defaultsRaw = (r.defaults ?? {}) as Raw;
  const defaults = sessionOptions(SESSION_DEFAULTS, defaultsRaw, ['defaults'], locate, false);
  const routes = (r.routes as Raw[]).map((route, i): RouteConfig => {
    const { path, handler, ...rest } = route as Raw & { path: string; handler: string };
    const common = sessionOptions(defaults, route, ['routes', i], locate, defaultsRaw.lowWaterMark !== undefined);
    const options: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) if (!(key in routeCommonSchema)) options[key] = value;
    const sources: Record<string, string | undefined> = { '': locate(['routes', i]) };
    for (const key of Object.keys(route)) sources[key] = locate(['routes', i, key]);
    const policy = routePolicy(route, r, ['routes', i], locate, baseDir);
    return { path, handler, ...common, options, index: i, sources, policy };
  });
  const seen = new Set<string>();
  routes.forEach((route, i) => {
    if (seen.has(route.path)) throw configError(locate, ['routes', i, 'path'], `"${route.path}" is used by an earlier route`);
    seen.add(route.path);
  });

  const tlsRaw = r.tls as Raw | undefined;
  const config: GatewayConfig = {
    listen,
    tls: tlsRaw && { cert: String(tlsRaw.cert), key: String(tlsRaw.key ?? tlsRaw.cert), only: tlsRaw.only === true },
    healthPath: r.health === false ? null : ((r.health as string | undefined) ?? '/healthz'),
    sessionsPath: (r.sessionsPath as string | undefined) ?? null,
    metricsPath: (r.metricsPath as string | undefined) ?? null,
    gracePeriod: r.gracePeriod === undefined ? 3000 : parseSeconds(r.gracePeriod),
    exitWhenIdle: r.exitWhenIdle === undefined ? 0 : parseSeconds(r.exitWhenIdle),
    runOnce: r.runOnce === true,
    // `traffic: true` is --traffic: trace level, one line per frame; an explicit logLevel wins, as --log-level does.
    logLevel: (r.logLevel as string | undefined) ?? (r.traffic === true ? 'trace' : 'info'),
    fingerprintKey: r.fingerprintKeyFile === undefined ? null : convert(['fingerprintKeyFile'], r.fingerprintKeyFile, (v) => readFingerprintKeyFile(resolve(baseDir, String(v)))),
    workers: resolveWorkers(r.workers as number | 'auto' | undefined),
    maxSessions: (r.maxSessions as number | undefined) ?? 0,
    handshakeTimeout: r.handshakeTimeout === undefined ? HANDSHAKE_DEFAULTS.timeout : parseSeconds(r.handshakeTimeout),
    maxPendingConnections: (r.maxPendingConnections as number | undefined) ?? HANDSHAKE_DEFAULTS.maxPending,
    maxHeaderSize: r.maxHeaderSize === undefined ? HANDSHAKE_DEFAULTS.maxHeaderSize : convert(['maxHeaderSize'], r.maxHeaderSize, (v) => sizeWithin(parseSize(v), HEADER_SIZE_RANGE)),
    ...gatewayLimits(r),
    routes,
    web: webConfig(r.web as string | { novnc: string } | undefined, baseDir, locate),
    baseDir,
    admin: adminConfig(r.admin as Raw | undefined, baseDir, locate),
  };
  const conflict = singleProcessConflict(config);
  if (conflict) throw configError(locate, [conflict], 'needs a single process: drop workers (or set workers: 1)');
  return config;
}

/** `auto` is one process per core. */
export function resolveWorkers(workers: number | 'auto' | undefined): number {
  return workers === 'auto' ? availableParallelism() : (workers ?? 1);
}

/**
 * The lifetime options one process decides alone; across workers they would
 * race (two "first" sessions for run-once, or "idle" per process). Returns
 * the field that conflicts with workers > 1, if any.
 */
export function singleProcessConflict(config: GatewayConfig): 'runOnce' | 'exitWhenIdle' | undefined {
  if (config.workers <= 1) return undefined;
  if (config.runOnce) return 'runOnce';
  if (config.exitWhenIdle > 0) return 'exitWhenIdle';
  return undefined;
}

/**
 * `web: novnc` is the noVNC client; any other string is a directory (write
 * `./novnc` for a folder of that name). `web: { novnc: X }` picks the client:
 * `auto` (as `web: novnc`), `builtin`, or a noVNC checkout's directory.
 */
function webConfig(web: string | { novnc: string } | undefined, baseDir: string, locate: Locator): WebConfig | null {
  if (web === undefined) return null;
  if (web === 'novnc') return { kind: 'novnc', app: 'auto' };
  if (typeof web === 'object') {
    if (web.novnc === 'auto' || web.novnc === 'builtin') return { kind: 'novnc', app: web.novnc };
    const dir = resolve(baseDir, web.novnc);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw configError(locate, ['web', 'novnc'], `${dir} is not a directory`);
    if (!statSync(join(dir, 'vnc.html'), { throwIfNoEntry: false })?.isFile()) {
      throw configError(locate, ['web', 'novnc'], `${dir} holds no vnc.html: give a noVNC application (vnc.html, app/, core/), or "builtin"`);
    }
    return { kind: 'novnc', app: { dir } };
  }
  const root = resolve(baseDir, web);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw configError(locate, ['web'], `${root} is not a directory`);
  return { kind: 'directory', root };
}

/** The admin block: one of listen or path; off loopback a token is required. */
function adminConfig(raw: Raw | undefined, baseDir: string, locate: Locator): AdminConfig | null {
  if (raw === undefined) return null;
  if ((raw.listen === undefined) === (raw.path === undefined)) throw configError(locate, ['admin'], 'needs either listen (its own listener) or path (on the main port), not both');
  let listen: ListenAddress | null = null;
  if (raw.listen !== undefined) {
    listen = converter(locate)(['admin', 'listen'], raw.listen, (v) => {
      const hp = parseHostPort(String(v), { hostOptional: true });
      if (typeof hp.port !== 'number') throw new ConfigValueError(`port must be a number (got "${hp.port}")`);
      return { host: hp.host ?? '127.0.0.1', port: hp.port };
    });
  }
  const tokenFile = raw.tokenFile === undefined ? null : resolve(baseDir, String(raw.tokenFile));
  const trustLoopback = raw.trustLoopback !== false;
  if (!tokenFile && !trustLoopback) throw configError(locate, ['admin', 'trustLoopback'], 'false needs a tokenFile: no client could use the admin API');
  if (listen && !tokenFile && !isLoopbackHost(listen.host!)) throw configError(locate, ['admin', 'listen'], `${listen.host} is not a loopback address: set admin.tokenFile so that clients must show a token`);
  return { listen, path: (raw.path as string | undefined) ?? null, tokenFile, trustLoopback };
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

type Convert = <T>(path: Array<string | number>, value: unknown, fn: (v: unknown) => T) => T;

/** Applies a unit parser, turning its complaint into an error that names the field. */
function converter(locate: Locator): Convert {
  return (path, value, fn) => {
    try {
      return fn(value);
    } catch (e) {
      if (e instanceof ConfigValueError) throw configError(locate, path, e.message);
      throw e;
    }
  };
}

/** Node's HTTP parser needs room for a request line; it keeps the limit as a 32-bit integer. */
const HEADER_SIZE_RANGE: SizeRange = { min: 1024, max: 2 ** 31 - 1, why: 'an HTTP request head needs some room, and Node holds the limit as a 32-bit integer' };

/** What the layer below each size can hold; outside it a value would silently mean something else. */
const SIZE_RANGES = {
  // `ws` keeps maxPayload as a 32-bit signed integer: 2 GiB and more wrap round
  // (4 GiB became 0, which `ws` reads as "no limit"), and 0 itself means no limit.
  maxMessageSize: { min: 1, max: 2 ** 31 - 1, why: 'the WebSocket layer holds it as a 32-bit signed integer, and 0 would mean no limit' },
  highWaterMark: { min: 1, max: Number.MAX_SAFE_INTEGER, why: 'a queue must be able to hold one byte' },
  lowWaterMark: { min: 0, max: Number.MAX_SAFE_INTEGER, why: 'byte counts are exact only up to 2^53' },
};

interface SizeRange {
  min: number;
  max: number;
  why: string;
}

export function sizeWithin(bytes: number, range: SizeRange): number {
  if (bytes < range.min || bytes > range.max) throw new ConfigValueError(`must be between ${range.min} and ${range.max} bytes: ${range.why} (got ${bytes})`);
  return bytes;
}

function sessionOptions(base: SessionOptions, raw: Raw, at: Array<string | number>, locate: Locator, lowWaterInherited: boolean): SessionOptions {
  const convert = converter(locate);
  const out = { ...base };
  const size = (k: keyof typeof SIZE_RANGES) => {
    if (raw[k] !== undefined) out[k] = convert([...at, k], raw[k], (v) => sizeWithin(parseSize(v), SIZE_RANGES[k]));
  };
  const secs = (k: 'heartbeat' | 'heartbeatTimeout' | 'idleTimeout' | 'closeTimeout' | 'drainTimeout') => {
    if (raw[k] !== undefined) out[k] = convert([...at, k], raw[k], parseSeconds);
  };
  size('maxMessageSize');
  size('highWaterMark');
  size('lowWaterMark');
  secs('heartbeat');
  secs('heartbeatTimeout');
  secs('idleTimeout');
  secs('closeTimeout');
  secs('drainTimeout');
  if (typeof raw.perMessageDeflate === 'boolean') out.perMessageDeflate = raw.perMessageDeflate;
  // A low-water mark nobody set follows a smaller high-water mark down.
  const lowWaterSet = raw.lowWaterMark !== undefined || lowWaterInherited;
  if (!lowWaterSet && out.lowWaterMark > out.highWaterMark / 4) out.lowWaterMark = Math.floor(out.highWaterMark / 4);
  if (out.lowWaterMark > out.highWaterMark) {
    throw configError(locate, [...at, 'lowWaterMark'], `must not exceed highWaterMark (${out.highWaterMark})`);
  }
  return out;
}
