// `wsgate cluster-proxy`: runs the far end of the cluster hand-off until
// SIGINT/SIGTERM. Settings come from flags, a YAML file (--config), or both
// (flags win). Exit codes: 0 after a stop, 1 when it cannot listen, 2 bad usage.
import { parseArgs } from 'node:util';
import { ConfigError, type Locator } from '../config/errors.js';
import { ConfigValueError } from '../config/units.js';
import { readYamlFile } from '../config/file.js';
import { createLogger, useFingerprintKey } from '../observability/logger.js';
import { fingerprintKeyFromEnv } from '../config/fingerprint-key.js';
import { buildClusterProxyConfig, type ClusterProxyConfig } from '../proxy/cluster-proxy/config.js';
import { ClusterProxy } from '../proxy/cluster-proxy/server.js';
import type { Io } from './tokens-command.js';

export const CLUSTER_PROXY_HELP = `Usage: wsgate cluster-proxy --listen HOST:PORT --secret-file FILE --allow NODES [options]
       wsgate cluster-proxy --config FILE.yaml [options]

The far end of a tcp-proxy route's clusterHandoff: greets each gateway with a fresh
nonce, verifies its signed document (version 1: the original module's, version 2:
HMAC-SHA-256), dials the node the document names, then relays unchanged.

Options (file fields in brackets):
  --listen HOST:PORT        where gateways connect; a bare port = every interface [listen]
  --secret-file FILE        the shared secret (trailing line breaks ignored) [secretFile]
  --secret-env NAME         ... or from this environment variable [secretEnv]
  --allow NODES             a node range it may reach, repeatable: 10.0.0.0/8:5900-5999,
                            127.0.0.1:5901, [fd00::/8]:5900, vnc-*.lan:5900 [allow]
  --versions LIST           document versions accepted: 1, 2 or 1,2 (default 1,2) [versions]
  --param-host NAME         parameter naming the node's host (default nodehost) [paramHost]
  --param-port NAME         parameter naming the node's port (default nodeport) [paramPort]
  --local-address ADDR      bind connections to nodes to this local address [localAddress]
  --connect-timeout S       node connect timeout in seconds (default 10) [connectTimeout]
  --handshake-timeout S     time a gateway has to send its whole document (default 10) [handshakeTimeout]
  --max-skew S              version 2: accepted clock difference, either way (default 60) [maxSkew]
  --keep-alive S            TCP keepalive delay on both sockets, 0 = off (default 60) [keepAlive]
  --log-level LEVEL         trace, debug, info (default), warn, error, fatal, silent [logLevel]
  --config FILE             read the bracketed fields from a YAML file; flags override it
  -h, --help                this help

Logs are JSON lines on stdout: one per refused hand-off with the reason, and one when a
relay opens and one when it closes (bytes each way). See docs/cluster-handoff.md.
`;

/** Flag -> config field; the parser, the file and the error messages share it. */
const FLAGS = {
  listen: 'listen',
  'secret-file': 'secretFile',
  'secret-env': 'secretEnv',
  allow: 'allow',
  versions: 'versions',
  'param-host': 'paramHost',
  'param-port': 'paramPort',
  'local-address': 'localAddress',
  'connect-timeout': 'connectTimeout',
  'handshake-timeout': 'handshakeTimeout',
  'max-skew': 'maxSkew',
  'keep-alive': 'keepAlive',
  'log-level': 'logLevel',
} as const;

const str = { type: 'string' } as const;
const OPTIONS = {
  listen: str,
  'secret-file': str,
  'secret-env': str,
  allow: { type: 'string', multiple: true },
  versions: str,
  'param-host': str,
  'param-port': str,
  'local-address': str,
  'connect-timeout': str,
  'handshake-timeout': str,
  'max-skew': str,
  'keep-alive': str,
  'log-level': str,
  config: str,
  help: { type: 'boolean', short: 'h' },
} as const;

const stdio: Io = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

export async function runClusterProxyCommand(argv: string[], io: Io = stdio): Promise<number> {
  let config: ClusterProxyConfig;
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true });
    const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
    if (v.help) {
      io.out(CLUSTER_PROXY_HELP);
      return 0;
    }
    config = configFrom(v);
    // The keys it logs get the fingerprints the gateways' logs give them when they share WSGATE_FINGERPRINT_KEY.
    const key = fingerprintKeyFromEnv();
    if (key) useFingerprintKey(key);
  } catch (e) {
    const parseError = String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
    if (!(e instanceof ConfigError) && !(e instanceof ConfigValueError) && !parseError) throw e;
    io.err(`wsgate cluster-proxy: ${(e as Error).message}\n(wsgate cluster-proxy --help lists the options)\n`);
    return 2;
  }

  const log = createLogger(config.logLevel).child({ role: 'cluster-proxy' });
  const proxy = new ClusterProxy(config, log);
  // Signals are watched before the "listening" line, which callers may act on at once.
  let stopping = false;
  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why, connections: proxy.connections }, 'shutting down');
    void proxy.stop().then(() => {
      log.info('stopped');
      stopped(0);
    });
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    await proxy.start();
  } catch (e) {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
    io.err(`wsgate cluster-proxy: cannot listen: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  return done;
}

/** The file's fields (if --config), with every flag given written over them. */
function configFrom(v: Record<string, string | string[] | boolean | undefined>): ClusterProxyConfig {
  let raw: Record<string, unknown> = {};
  let fileLocate: Locator = () => undefined;
  let baseDir = process.cwd();
  if (typeof v.config === 'string') {
    const file = readYamlFile(v.config);
    if (file.value !== null && (typeof file.value !== 'object' || Array.isArray(file.value))) throw new ConfigError(`${v.config}: expected the cluster proxy's fields (listen, secretFile, allow, ...)`);
    raw = { ...(file.value as Record<string, unknown> | null) };
    fileLocate = file.locate;
    baseDir = file.baseDir;
  }
  const fromFlag = new Map<string, string>();
  for (const [flag, field] of Object.entries(FLAGS)) {
    const given = v[flag];
    if (given === undefined) continue;
    fromFlag.set(field, flag);
    raw[field] = field === 'versions' ? versionsOf(given as string) : given;
  }
  // Two secret sources, one from the file and one from a flag: the flag's replaces the file's.
  if (fromFlag.has('secretFile') && !fromFlag.has('secretEnv')) delete raw.secretEnv;
  if (fromFlag.has('secretEnv') && !fromFlag.has('secretFile')) delete raw.secretFile;
  const locate: Locator = (path) => {
    const flag = fromFlag.get(String(path[0]));
    return flag ? `--${flag}` : fileLocate(path);
  };
  // A flag's value is relative to the working directory, a file's to the file.
  if (fromFlag.has('secretFile')) baseDir = process.cwd();
  return buildClusterProxyConfig(raw, locate, baseDir);
}

function versionsOf(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (!parts.every((p) => p === '1' || p === '2')) throw new ConfigError(`--versions: give 1, 2 or 1,2 (got "${text}")`);
  return [...new Set(parts.map(Number))];
}
