// Builds a resolver straight from a config block, the way the gateway does,
// so resolver tests need no gateway.
import { validateAgainst } from '../../src/config/validate.js';
import { ConfigError } from '../../src/config/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { loadResolverFactory } from '../../src/proxy/resolvers/index.js';
import type { ResolverEnv, TargetResolver } from '../../src/proxy/resolvers/types.js';
import { TARGET_KEYS, type RecordKeySet } from '../../src/proxy/resolvers/record.js';
import { REPO_ROOT } from './paths.js';

const COMMON = new Set(['type', 'timeout', 'cache']);

export function resolverEnv(block: Record<string, unknown>, baseDir = REPO_ROOT, keys: RecordKeySet = TARGET_KEYS): ResolverEnv {
  const own = Object.fromEntries(Object.entries(block).filter(([k]) => !COMMON.has(k)));
  return {
    baseDir,
    log: createLogger(process.env.WSGATE_TEST_LOG ?? 'silent', 2),
    options<T>(schema: { properties: Record<string, object>; required?: string[] }): T {
      validateAgainst({ type: 'object', additionalProperties: false, ...schema }, own, ['resolver'], () => undefined);
      return own as T;
    },
    invalid(field: string, message: string): never {
      throw new ConfigError(`resolver.${field}: ${message}`);
    },
    keys,
  };
}

/** A resolver of `block.type` built from `block` (e.g. { type: 'redis', url: ... }). */
export async function makeResolver(block: Record<string, unknown>, baseDir?: string, keys?: RecordKeySet): Promise<TargetResolver> {
  const factory = await loadResolverFactory(String(block.type));
  if (!factory) throw new Error(`no resolver type ${String(block.type)}`);
  return factory(resolverEnv(block, baseDir, keys));
}

/** An AbortSignal that aborts after `ms` (the gateway's lookup timeout). */
export const within = (ms = 5000): AbortSignal => AbortSignal.timeout(ms);
