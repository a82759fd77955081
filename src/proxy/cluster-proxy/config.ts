// The cluster proxy's settings: one raw object (from its YAML file, its
// flags, or both with the flags winning) checked against one schema and
// turned into milliseconds, a loaded secret and an allowlist.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { configError, type Locator } from '../../config/errors.js';
import { ConfigValueError, parseSeconds } from '../../config/units.js';
import { parseHostPort } from '../../config/host-port.js';
import { validateAgainst } from '../../config/validate.js';
import { loadSecret, type Secret } from '../cluster-handoff/secret.js';
import { TargetPolicy } from '../target-policy.js';

export interface ClusterProxyConfig {
  listen: { host?: string; port: number };
  secret: Secret;
  /** Document versions accepted (1, 2 or both). */
  versions: Array<1 | 2>;
  /** The nodes it may reach. */
  allow: TargetPolicy;
  /** Parameter names that carry the node's host and port. */
  paramHost: string;
  paramPort: string;
  localAddress?: string;
  connectTimeoutMs: number;
  /** From accepting a connection to having the whole document. */
  handshakeTimeoutMs: number;
  /** Version 2: how far a document's timestamp may be from this clock. */
  maxSkewMs: number;
  /** TCP keepalive delay on both sockets; 0 = off. */
  keepAliveMs: number;
  logLevel: string;
}

const seconds = { anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*$' }] };

export const clusterProxySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    listen: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'integer', minimum: 0, maximum: 65535 }] },
    secretFile: { type: 'string', minLength: 1 },
    secretEnv: { type: 'string', minLength: 1 },
    versions: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [1, 2] } },
    allow: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    paramHost: { type: 'string', minLength: 1 },
    paramPort: { type: 'string', minLength: 1 },
    localAddress: { type: 'string', minLength: 1 },
    connectTimeout: seconds,
    handshakeTimeout: seconds,
    maxSkew: seconds,
    keepAlive: { anyOf: [seconds, { const: false }] },
    logLevel: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
  },
} as const;

type Raw = Record<string, unknown>;

/** Builds the config; every problem is a ConfigError naming the field (and, via `locate`, its line or flag). */
export function buildClusterProxyConfig(raw: Raw, locate: Locator, baseDir: string): ClusterProxyConfig {
  validateAgainst(clusterProxySchema, raw, [], locate);
  const fail = (field: string, message: string): never => {
    throw configError(locate, [field], message);
  };
  const value = <T>(field: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof Error) return fail(field, e.message);
      throw e;
    }
  };
  if (raw.listen === undefined) fail('listen', 'is required (HOST:PORT, or a port for every interface)');
  const listen = value('listen', () => {
    const hp = parseHostPort(String(raw.listen), { hostOptional: true });
    if (typeof hp.port !== 'number') throw new ConfigValueError(`the port must be a number (got "${hp.port}")`);
    return { host: hp.host, port: hp.port };
  });
  const secretFields = (['secretFile', 'secretEnv'] as const).filter((k) => raw[k] !== undefined);
  if (secretFields.length !== 1) fail(secretFields[1] ?? 'secretFile', 'give exactly one of secretFile (--secret-file) or secretEnv (--secret-env)');
  const secretField = secretFields[0]!;
  const secret = value(secretField, () =>
    loadSecret(secretField === 'secretFile' ? { file: resolve(baseDir, String(raw.secretFile)) } : { env: String(raw.secretEnv) }),
  );
  if (raw.allow === undefined) fail('allow', 'is required: the nodes this proxy may reach, e.g. 10.0.0.0/8:5900-5999');
  const allow = value('allow', () => new TargetPolicy(raw.allow as string[]));
  const localAddress = raw.localAddress as string | undefined;
  if (localAddress !== undefined && !isIP(localAddress)) fail('localAddress', `"${localAddress}" is not an IP address`);
  const secs = (field: string, fallback: number) => (raw[field] === undefined ? fallback : value(field, () => parseSeconds(raw[field])));
  const connectTimeoutMs = secs('connectTimeout', 10_000);
  if (connectTimeoutMs === 0) fail('connectTimeout', 'must be more than 0');
  const handshakeTimeoutMs = secs('handshakeTimeout', 10_000);
  if (handshakeTimeoutMs === 0) fail('handshakeTimeout', 'must be more than 0');
  return {
    listen,
    secret,
    versions: ((raw.versions as Array<1 | 2> | undefined) ?? [1, 2]).slice().sort(),
    allow,
    paramHost: (raw.paramHost as string | undefined) ?? 'nodehost',
    paramPort: (raw.paramPort as string | undefined) ?? 'nodeport',
    localAddress,
    connectTimeoutMs,
    handshakeTimeoutMs,
    maxSkewMs: secs('maxSkew', 60_000),
    keepAliveMs: raw.keepAlive === false ? 0 : secs('keepAlive', 60_000),
    logLevel: (raw.logLevel as string | undefined) ?? 'info',
  };
}
