// The edge policy as configured: the Origin rule, the authentication checks,
// the limits and the refusal mode of each route (top-level values are the
// defaults; a route's own win), and the gateway-wide limits. Only parsing
// and checking happens here; src/server/policy/ applies them.
import { resolve } from 'node:path';
import { configError, type Locator } from './errors.js';
import { ConfigValueError, parseSeconds } from './units.js';
import { closedObject, validateAgainst } from './validate.js';
import type { AuthCheckConfig, AuthFailureLimit, OriginPolicy, RateLimit, RefuseMode, RoutePolicyConfig, TrustedOrigin } from './types.js';

type Raw = Record<string, unknown>;
type Path = Array<string | number>;

const oneOrMany = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] };

/** Each auth entry's own fields, by type. */
const AUTH_SCHEMAS: Record<AuthCheckConfig['type'], object> = {
  cert: closedObject({
    properties: { type: {}, subjects: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } } },
    required: ['subjects'],
  }),
  basic: closedObject({
    properties: {
      type: {},
      users: { type: 'string', minLength: 1 },
      // websockify's BasicHTTPAuth (--auth-source user:password): one user, in plain text.
      user: { type: 'string', minLength: 1, pattern: '^[^:]*$' },
      password: { type: 'string' },
      realm: { type: 'string', minLength: 1, pattern: '^[^"\\\\\\r\\n]*$' },
      cacheTtl: { type: 'number', minimum: 0 },
    },
  }),
  jwt: closedObject({
    properties: {
      type: {},
      secret: { type: 'string', minLength: 1 },
      publicKey: { type: 'string', minLength: 1 },
      jwks: { type: 'string', minLength: 1 },
      keyFile: { type: 'string', minLength: 1 },
      algorithms: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      audience: oneOrMany,
      issuer: oneOrMany,
      clockTolerance: { type: 'number', minimum: 0 },
      cookie: { type: 'string', minLength: 1, pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$" },
    },
    required: ['audience'],
  }),
};

/** Checks run in this order, whatever the order of the list: the cheapest and most basic first. */
const AUTH_ORDER: AuthCheckConfig['type'][] = ['cert', 'basic', 'jwt'];

export const AUTH_FAILURE_DEFAULTS: AuthFailureLimit = { max: 5, windowMs: 60_000, lockoutMs: 60_000 };

/** A route's policy: its own fields, else the top level's, else the defaults. */
export function routePolicy(route: Raw, top: Raw, at: Path, locate: Locator, baseDir: string): RoutePolicyConfig {
  const pick = (field: string): { value: unknown; path: Path } =>
    route[field] !== undefined ? { value: route[field], path: [...at, field] } : { value: top[field], path: [field] };
  const origin = pick('origin');
  let originPolicy: OriginPolicy = { kind: 'same-host' };
  if (origin.value !== undefined) {
    try {
      originPolicy = parseOriginPolicy(origin.value as string | string[]);
    } catch (e) {
      if (e instanceof ConfigValueError) throw configError(locate, origin.path, e.message);
      throw e;
    }
  }
  return {
    origin: originPolicy,
    originRequired: (pick('originRequired').value as boolean | undefined) ?? false,
    auth: authChecks(route.auth as Raw[] | undefined, [...at, 'auth'], locate, baseDir),
    maxSessions: (route.maxSessions as number | undefined) ?? 0,
    // The top level's per-address limit and rate limit count over every route (gatewayLimits), not as a route default.
    maxSessionsPerAddress: (route.maxSessionsPerAddress as number | undefined) ?? 0,
    rateLimit: rateLimit(route.rateLimit as Raw | undefined),
    refuse: (pick('refuse').value as RefuseMode | undefined) ?? 'auto',
  };
}

/** The top level's limits, which hold over every route together. */
export function gatewayLimits(top: Raw): { maxSessionsPerAddress: number; rateLimit: RateLimit | null; authFailures: AuthFailureLimit } {
  const failures = (top.authFailures ?? {}) as Raw;
  return {
    maxSessionsPerAddress: (top.maxSessionsPerAddress as number | undefined) ?? 0,
    rateLimit: rateLimit(top.rateLimit as Raw | undefined),
    authFailures: {
      max: (failures.max as number | undefined) ?? AUTH_FAILURE_DEFAULTS.max,
      windowMs: failures.window === undefined ? AUTH_FAILURE_DEFAULTS.windowMs : parseSeconds(failures.window),
      lockoutMs: failures.lockout === undefined ? AUTH_FAILURE_DEFAULTS.lockoutMs : parseSeconds(failures.lockout),
    },
  };
}

function rateLimit(raw: Raw | undefined): RateLimit | null {
  if (!raw) return null;
  const perAddress = raw.perAddress as number;
  // Without a burst, as many at once as a second allows (at least one).
  return { perAddress, burst: (raw.burst as number | undefined) ?? Math.max(1, Math.ceil(perAddress)) };
}

/**
 * `same-host`, `same`, `off`, or trusted origins: a list, or one string of
 * them separated by commas or spaces (`--origin a,b`; websockify's
 * ExpectOrigin takes "a b").
 */
export function parseOriginPolicy(value: string | string[]): OriginPolicy {
  if (typeof value === 'string') {
    const word = value.trim();
    if (word === 'same-host' || word === 'same' || word === 'off') return { kind: word };
  }
  const entries = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(/[\s,]+/)).filter((v) => v !== '');
  if (entries.length === 0) throw new ConfigValueError('names no origin (same-host, same, off, or origins like https://app.example.com)');
  return { kind: 'list', origins: entries.map(trustedOrigin) };
}

/** `https://app.example.com[:port]`, or `https://*.example.com` for its subdomains. */
function trustedOrigin(text: string): TrustedOrigin {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\*\.)?([^/?#]+)\/?$/i.exec(text);
  let url: URL | null = null;
  try {
    if (m) url = new URL(`${m[1]}://${m[3]}`);
  } catch {
    url = null;
  }
  if (!m || !url || url.username || url.password || url.hostname === '') {
    throw new ConfigValueError(`"${text}" is not an origin (scheme://host[:port], e.g. https://app.example.com or https://*.example.com)`);
  }
  return { scheme: url.protocol, host: url.hostname.toLowerCase(), port: url.port, subdomains: m[2] !== undefined };
}

function authChecks(raw: Raw[] | undefined, at: Path, locate: Locator, baseDir: string): AuthCheckConfig[] {
  if (!raw) return [];
  const seen = new Set<string>();
  const checks = raw.map((entry, i): AuthCheckConfig => {
    const type = entry.type as AuthCheckConfig['type'];
    if (seen.has(type)) throw configError(locate, [...at, i, 'type'], `a second "${type}" check; every check of a route must pass, so give one of each type`);
    seen.add(type);
    validateAgainst(AUTH_SCHEMAS[type], entry, [...at, i], locate);
    const invalid = (field: string, message: string) => configError(locate, [...at, i, field], message);
    switch (type) {
      case 'cert':
        return { type, subjects: entry.subjects as string[] };
      case 'basic': {
        const common = { type, realm: (entry.realm as string | undefined) ?? 'wsgate', cacheTtl: entry.cacheTtl === undefined ? 60_000 : parseSeconds(entry.cacheTtl) };
        if (entry.users !== undefined) {
          if (entry.user !== undefined || entry.password !== undefined) throw invalid('users', 'give either a users file or user and password, not both');
          return { ...common, users: resolve(baseDir, entry.users as string) };
        }
        if (entry.user === undefined || entry.password === undefined) throw invalid('users', 'is required (a file of user:HASH lines), or give user and password');
        return { ...common, user: entry.user as string, password: entry.password as string };
      }
      case 'jwt': {
        const keys = (['secret', 'publicKey', 'jwks', 'keyFile'] as const).filter((f) => entry[f] !== undefined);
        if (keys.length !== 1) throw invalid(keys[1] ?? 'secret', keys.length ? `give one of secret, publicKey, jwks or keyFile, not ${keys.join(' and ')}` : 'one of secret, publicKey, jwks (a file or URL) or keyFile is required');
        const file = (f: 'publicKey' | 'jwks' | 'keyFile') => {
          const v = entry[f] as string | undefined;
          return v === undefined || /^https?:\/\//.test(v) ? v : resolve(baseDir, v);
        };
        if (/^https?:\/\//.test(String(entry.publicKey ?? entry.keyFile ?? ''))) throw invalid(keys[0]!, 'must be a file (only jwks may be a URL)');
        return {
          type,
          secret: entry.secret as string | undefined,
          publicKey: file('publicKey'),
          jwks: file('jwks'),
          keyFile: file('keyFile'),
          algorithms: entry.algorithms as string[] | undefined,
          audience: entry.audience as string | string[],
          issuer: entry.issuer as string | string[] | undefined,
          clockTolerance: entry.clockTolerance === undefined ? 0 : (entry.clockTolerance as number),
          cookie: entry.cookie as string | undefined,
        };
      }
    }
  });
  const basic = checks.some((c) => c.type === 'basic');
  const jwt = checks.findIndex((c) => c.type === 'jwt');
  if (basic && jwt >= 0 && !(checks[jwt] as { cookie?: string }).cookie) {
    // A request has one Authorization header, and Basic takes it.
    throw configError(locate, [...at, jwt, 'cookie'], 'with a basic check as well, the JWT must come in a cookie: name it here');
  }
  return checks.sort((a, b) => AUTH_ORDER.indexOf(a.type) - AUTH_ORDER.indexOf(b.type));
}
