// argv -> what to do. The websockify form becomes the same raw config a
// YAML file would hold, so both are validated by one code path.
import { parseArgs } from 'node:util';
import { ConfigError, fieldName } from '../config/errors.js';
import { buildConfig, resolveWorkers, singleProcessConflict } from '../config/build.js';
import { loadConfigFile } from '../config/file.js';
import { configSchema } from '../config/schema.js';
import { validateAgainst } from '../config/validate.js';
import type { GatewayConfig } from '../config/types.js';
import { OPTIONS } from './options.js';
import { resolverFromPlugin } from './token-plugins.js';
import { authFromPlugin, type AuthPluginFields } from './auth-plugins.js';

export type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: GatewayConfig; listenTimeout: number; logFile?: string };

/** Which option a config field came from, for error messages. */
const FIELD_TO_OPTION: Record<string, string> = {
  listen: '[listen_host:]listen_port',
  'routes[0].target': 'target_host:target_port',
  'routes[0].unixTarget': '--unix-target',
  'routes[0].connectTimeout': '--connect-timeout',
  'routes[0].localAddress': '--local-address',
  'routes[0].resolver': '--token-plugin/--token-source',
  'routes[0].record': '--record',
  'defaults.heartbeat': '--heartbeat',
  'defaults.heartbeatTimeout': '--heartbeat-timeout',
  'defaults.idleTimeout': '--session-idle-timeout',
  'defaults.maxMessageSize': '--max-message-size',
  'defaults.highWaterMark': '--high-water-mark',
  'defaults.closeTimeout': '--close-timeout',
  'defaults.drainTimeout': '--drain-timeout',
  gracePeriod: '--grace-period',
  exitWhenIdle: '--idle-timeout',
  runOnce: '--run-once',
  health: '--health',
  sessionsPath: '--sessions-path',
  metricsPath: '--metrics-path',
  logLevel: '--log-level',
  'web.novnc': '--novnc-app', // before "web": the first key that matches names the option
  web: '--web',
  workers: '--workers',
  maxSessions: '--max-sessions',
  handshakeTimeout: '--handshake-timeout',
  maxPendingConnections: '--max-pending-connections',
  maxHeaderSize: '--max-header-size',
  origin: '--origin',
  originRequired: '--origin-required',
  'routes[0].auth': '--auth-plugin/--auth-source',
  maxSessionsPerAddress: '--max-sessions-per-address',
  rateLimit: '--rate-limit',
  refuse: '--refuse',
};

/** The edge-policy options, which a config file sets per route instead. */
const POLICY_OPTIONS = ['origin', 'origin-required', 'auth-plugin', 'auth-source', 'max-sessions-per-address', 'rate-limit', 'refuse'];

/** Parsed option values, by long name (see OPTIONS). */
type Values = Record<string, string | boolean | undefined>;

export function parseCommandLine(argv: string[]): Command {
  const { values: v, positionals } = parseOptions(argv);
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };
  for (const o of OPTIONS) if (o.unsupported && v[o.name] !== undefined) throw new ConfigError(`--${o.name}: ${o.unsupported}`);
  const listenTimeout = (numberOption(v, 'timeout') ?? 0) * 1000;
  const logLevel = (v['log-level'] as string | undefined) ?? (v.traffic ? 'trace' : v.verbose ? 'debug' : undefined);
  const config = v.config !== undefined ? configFileForm(v, positionals, logLevel) : websockifyForm(v, positionals, logLevel);
  const logFile = v['log-file'] as string | undefined;
  return { kind: 'run', config, listenTimeout, ...(logFile ? { logFile } : {}) };
}

/** argv against the OPTIONS table; node:util's complaints become usage errors. */
function parseOptions(argv: string[]): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(OPTIONS.map((o) => [o.name, { type: o.value ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}) }] as const)),
    });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** `--name`'s value as a number; undefined when it is not given. */
function numberOption(v: Values, name: string): number | undefined {
  const raw = v[name] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${name}: "${raw}" is not a number`);
  return n;
}

/** `--config FILE`: the file holds the listen address and routes; a few options override it. */
function configFileForm(v: Values, positionals: string[], logLevel: string | undefined): GatewayConfig {
  if (positionals.length > 0) throw new ConfigError('--config takes the listen address and routes from the file; drop the positional arguments');
  if (v.web !== undefined || v.novnc || v['novnc-app'] !== undefined) throw new ConfigError('with --config, set "web:" in the file instead of --web/--novnc');
  const policy = POLICY_OPTIONS.find((name) => v[name] !== undefined);
  if (policy) throw new ConfigError(`with --config, set the edge policy (origin:, auth:, limits, refuse:) in the file instead of --${policy}`);
  const config = loadConfigFile(v.config as string);
  if (logLevel) config.logLevel = logLevel;
  // --workers / --max-sessions win over the file, as --log-level does; checked by the file's own schema.
  if (v.workers !== undefined) {
    const workers = workersArg(v.workers as string);
    validateAgainst(configSchema.properties.workers, workers, ['workers'], () => '--workers');
    config.workers = resolveWorkers(workers as number | 'auto');
  }
  const maxSessions = numberOption(v, 'max-sessions');
  if (maxSessions !== undefined) {
    validateAgainst(configSchema.properties.maxSessions, maxSessions, ['maxSessions'], () => '--max-sessions');
    config.maxSessions = maxSessions;
  }
  const conflict = singleProcessConflict(config);
  if (conflict) throw new ConfigError(`${conflict} needs a single process: drop --workers`);
  return config;
}

/**
 * websockify's form, `[listen_host:]listen_port target_host:target_port` and
 * options: the raw config a file would hold, with one catch-all proxy route.
 */
function websockifyForm(v: Values, positionals: string[], logLevel: string | undefined): GatewayConfig {
  const resolver = tokenResolver(v);
  const needTarget = v['unix-target'] === undefined && !resolver;
  if (positionals.length !== (needTarget ? 2 : 1)) {
    throw new ConfigError(
      needTarget
        ? 'expected [listen_host:]listen_port target_host:target_port (or --config FILE); see --help'
        : `with ${resolver ? '--token-plugin' : '--unix-target'} give only [listen_host:]listen_port`,
    );
  }
  const num = (name: string) => numberOption(v, name);
  const defaults = sessionDefaults(v);
  const auth = authPlugin(v);
  const raw = stripUndefined({
    listen: positionals[0],
    tls: v.cert !== undefined ? stripUndefined({ cert: v.cert, key: v.key, only: true }) : undefined,
    health: v.health === 'off' ? false : v.health,
    sessionsPath: v['sessions-path'],
    metricsPath: v['metrics-path'],
    gracePeriod: num('grace-period'),
    exitWhenIdle: num('idle-timeout'),
    runOnce: v['run-once'] === true ? true : undefined,
    logLevel,
    workers: workersArg(v.workers as string | undefined),
    maxSessions: num('max-sessions'),
    handshakeTimeout: num('handshake-timeout'),
    maxPendingConnections: num('max-pending-connections'),
    maxHeaderSize: v['max-header-size'],
    ...edgePolicy(v, auth),
    // In the config file "novnc" names the client; on the command line --web is always a directory, as in websockify.
    web: v['novnc-app'] !== undefined ? { novnc: v['novnc-app'] } : v.novnc ? 'novnc' : v.web === 'novnc' ? './novnc' : v.web,
    defaults,
    routes: [{ ...proxyRoute(v, needTarget ? positionals[1] : undefined, resolver), ...(auth.auth ? { auth: auth.auth } : {}) }],
  });
  if ((v.novnc || v['novnc-app'] !== undefined) && v.web !== undefined) throw new ConfigError('give either --web DIR or --novnc, not both');
  if (v.key !== undefined && v.cert === undefined) throw new ConfigError('--key needs --cert');
  return buildConfig(raw, optionFor, process.cwd());
}

/** --auth-plugin/--auth-source: websockify's auth plugins as the edge policy. */
function authPlugin(v: Values): AuthPluginFields {
  const plugin = v['auth-plugin'] as string | undefined;
  if (plugin === undefined) {
    if (v['auth-source'] !== undefined) throw new ConfigError('--auth-source needs --auth-plugin');
    return { top: {} };
  }
  const fields = authFromPlugin(plugin, v['auth-source'] as string | undefined);
  if (fields.top.origin !== undefined && v.origin !== undefined) throw new ConfigError('give either --origin or --auth-plugin ExpectOrigin, not both');
  return fields;
}

/** The top-level edge policy of the websockify form (its one route takes the defaults). */
function edgePolicy(v: Values, auth: AuthPluginFields): Record<string, unknown> {
  return stripUndefined({
    origin: v.origin,
    originRequired: v['origin-required'] ? true : undefined,
    ...auth.top,
    maxSessionsPerAddress: numberOption(v, 'max-sessions-per-address'),
    rateLimit: rateLimitArg(v['rate-limit'] as string | undefined),
    refuse: v.refuse,
  });
}

/** "N" or "N/BURST" as the config's rateLimit block (the schema checks the numbers). */
function rateLimitArg(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  const m = /^\s*([0-9.]+)\s*(?:\/\s*(\d+)\s*)?$/.exec(raw);
  if (!m || !Number.isFinite(Number(m[1]))) throw new ConfigError(`--rate-limit: "${raw}" is not N or N/BURST (new sessions per second, and how many at once)`);
  return stripUndefined({ perAddress: Number(m[1]), burst: m[2] === undefined ? undefined : Number(m[2]) });
}

/** --token-plugin (or websockify's older --target-config) as a resolver block; undefined without one. */
function tokenResolver(v: Values): Record<string, unknown> | undefined {
  const tokenPlugin = (v['token-plugin'] as string | undefined) ?? (v['target-config'] !== undefined ? 'TokenFile' : undefined);
  const resolver = tokenPlugin ? resolverFromPlugin(tokenPlugin, (v['token-source'] ?? v['target-config']) as string | undefined) : undefined;
  if (!resolver && (v['token-source'] !== undefined || v['host-token'])) throw new ConfigError('--token-source and --host-token need --token-plugin');
  return resolver;
}

/** The session options (the file's `defaults:`). */
function sessionDefaults(v: Values): Record<string, unknown> {
  const num = (name: string) => numberOption(v, name);
  return stripUndefined({
    heartbeat: num('heartbeat'),
    heartbeatTimeout: num('heartbeat-timeout'),
    idleTimeout: num('session-idle-timeout'),
    maxMessageSize: v['max-message-size'],
    highWaterMark: v['high-water-mark'],
    closeTimeout: num('close-timeout'),
    drainTimeout: num('drain-timeout'),
    perMessageDeflate: v['per-message-deflate'] ? true : undefined,
  });
}

/** The one route of this form: every path goes to the target, the Unix socket or the token's target. */
function proxyRoute(v: Values, target: string | undefined, resolver: Record<string, unknown> | undefined): Record<string, unknown> {
  return stripUndefined({
    path: '*',
    handler: 'tcp-proxy',
    target,
    unixTarget: v['unix-target'],
    resolver,
    token: resolver && v['host-token'] ? { from: 'host' } : undefined,
    connectTimeout: numberOption(v, 'connect-timeout'),
    localAddress: v['local-address'],
    // websockify's --record: every frame both ways, FILE.<n> per session.
    record: v.record !== undefined ? { file: v.record, format: 'novnc', inputs: true } : undefined,
  });
}

/** Names the option a config field came from, for error messages. */
function optionFor(path: ReadonlyArray<string | number>): string {
  const name = fieldName(path);
  const key = Object.keys(FIELD_TO_OPTION).find((k) => name === k || name.startsWith(k + '.') || name.startsWith(k + '['));
  return key ? FIELD_TO_OPTION[key] : 'command line';
}

/** "--workers auto" stays a word; a number becomes one (the schema checks the range). */
function workersArg(raw: string | undefined): number | string | undefined {
  if (raw === undefined || raw === 'auto') return raw;
  const n = Number(raw);
  return raw.trim() !== '' && Number.isInteger(n) ? n : raw;
}

function stripUndefined<T extends Record<string, unknown>>(obj: T): T {
  for (const k of Object.keys(obj)) if (obj[k] === undefined) delete obj[k];
  return obj;
}
