// argv -> what to do. The websockify form becomes the same raw config a
// YAML file would hold, so both are validated by one code path.
import { parseArgs } from 'node:util';
import { ConfigError, fieldName, type Locator } from '../config/errors.js';
import { buildConfig, resolveWorkers, singleProcessConflict } from '../config/build.js';
import { loadConfigFile } from '../config/file.js';
import { configSchema } from '../config/schema.js';
import { validateAgainst } from '../config/validate.js';
import type { GatewayConfig } from '../config/types.js';
import { OPTIONS } from './options.js';
import { resolverFromPlugin } from './token-plugins.js';

export type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: GatewayConfig; listenTimeout: number };

/** Which option a config field came from, for error messages. */
const FIELD_TO_OPTION: Record<string, string> = {
  listen: '[listen_host:]listen_port',
  'routes[0].target': 'target_host:target_port',
  'routes[0].unixTarget': '--unix-target',
  'routes[0].connectTimeout': '--connect-timeout',
  'routes[0].localAddress': '--local-address',
  'routes[0].resolver': '--token-plugin/--token-source',
  'defaults.heartbeat': '--heartbeat',
  'defaults.heartbeatTimeout': '--heartbeat-timeout',
  'defaults.idleTimeout': '--session-idle-timeout',
  'defaults.maxMessageSize': '--max-message-size',
  'defaults.highWaterMark': '--high-water-mark',
  'defaults.closeTimeout': '--close-timeout',
  gracePeriod: '--grace-period',
  exitWhenIdle: '--idle-timeout',
  runOnce: '--run-once',
  health: '--health',
  sessionsPath: '--sessions-path',
  metricsPath: '--metrics-path',
  logLevel: '--log-level',
  web: '--web',
  workers: '--workers',
  maxSessions: '--max-sessions',
};

export function parseCommandLine(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(OPTIONS.map((o) => [o.name, { type: o.value ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}) }] as const)),
    });
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const pos = parsed.positionals;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };
  for (const o of OPTIONS) if (o.unsupported && v[o.name] !== undefined) throw new ConfigError(`--${o.name}: ${o.unsupported}`);

  const num = (name: string) => {
    const raw = v[name] as string | undefined;
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${name}: "${raw}" is not a number`);
    return n;
  };
  const listenTimeout = (num('timeout') ?? 0) * 1000;
  const logLevel = (v['log-level'] as string | undefined) ?? (v.traffic ? 'trace' : v.verbose ? 'debug' : undefined);

  if (v.config !== undefined) {
    if (pos.length > 0) throw new ConfigError('--config takes the listen address and routes from the file; drop the positional arguments');
    if (v.web !== undefined || v.novnc) throw new ConfigError('with --config, set "web:" in the file instead of --web/--novnc');
    const config = loadConfigFile(v.config as string);
    if (logLevel) config.logLevel = logLevel;
    // --workers / --max-sessions win over the file, as --log-level does; checked by the file's own schema.
    if (v.workers !== undefined) {
      const workers = workersArg(v.workers as string);
      validateAgainst(configSchema.properties.workers, workers, ['workers'], () => '--workers');
      config.workers = resolveWorkers(workers as number | 'auto');
    }
    const maxSessions = num('max-sessions');
    if (maxSessions !== undefined) {
      validateAgainst(configSchema.properties.maxSessions, maxSessions, ['maxSessions'], () => '--max-sessions');
      config.maxSessions = maxSessions;
    }
    const conflict = singleProcessConflict(config);
    if (conflict) throw new ConfigError(`${conflict} needs a single process: drop --workers`);
    return { kind: 'run', config, listenTimeout };
  }

  const tokenPlugin = (v['token-plugin'] as string | undefined) ?? (v['target-config'] !== undefined ? 'TokenFile' : undefined);
  const resolver = tokenPlugin ? resolverFromPlugin(tokenPlugin, (v['token-source'] ?? v['target-config']) as string | undefined) : undefined;
  if (!resolver && (v['token-source'] !== undefined || v['host-token'])) throw new ConfigError('--token-source and --host-token need --token-plugin');
  const needTarget = v['unix-target'] === undefined && !resolver;
  if (pos.length !== (needTarget ? 2 : 1)) {
    throw new ConfigError(
      needTarget
        ? 'expected [listen_host:]listen_port target_host:target_port (or --config FILE); see --help'
        : `with ${resolver ? '--token-plugin' : '--unix-target'} give only [listen_host:]listen_port`,
    );
  }
  const defaults = stripUndefined({
    heartbeat: num('heartbeat'),
    heartbeatTimeout: num('heartbeat-timeout'),
    idleTimeout: num('session-idle-timeout'),
    maxMessageSize: v['max-message-size'],
    highWaterMark: v['high-water-mark'],
    closeTimeout: num('close-timeout'),
    perMessageDeflate: v['per-message-deflate'] ? true : undefined,
  });
  const raw = stripUndefined({
    listen: pos[0],
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
    // In the config file "novnc" names the client; on the command line --web is always a directory, as in websockify.
    web: v.novnc ? 'novnc' : v.web === 'novnc' ? './novnc' : v.web,
    defaults,
    routes: [
      stripUndefined({
        path: '*',
        handler: 'tcp-proxy',
        target: needTarget ? pos[1] : undefined,
        unixTarget: v['unix-target'],
        resolver,
        token: resolver && v['host-token'] ? { from: 'host' } : undefined,
        connectTimeout: num('connect-timeout'),
        localAddress: v['local-address'],
      }),
    ],
  });
  if (v.novnc && v.web !== undefined) throw new ConfigError('give either --web DIR or --novnc, not both');
  if (v.key !== undefined && v.cert === undefined) throw new ConfigError('--key needs --cert');
  const locate: Locator = (path) => {
    const name = fieldName(path);
    const key = Object.keys(FIELD_TO_OPTION).find((k) => name === k || name.startsWith(k + '.') || name.startsWith(k + '['));
    return key ? FIELD_TO_OPTION[key] : 'command line';
  };
  return { kind: 'run', config: buildConfig(raw, locate, process.cwd()), listenTimeout };
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
