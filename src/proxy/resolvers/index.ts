// The resolver types a route can name in `resolver: { type: ... }`, loaded
// on demand so that a gateway without, say, PostgreSQL never loads `pg`.
import type { ResolverFactory } from './types.js';

const LOADERS: Record<string, () => Promise<ResolverFactory>> = {
  sqlite: async () => (await import('./sql.js')).createSqlite,
  postgres: async () => (await import('./sql.js')).createPostgres,
  mysql: async () => (await import('./sql.js')).createMysql,
  file: async () => (await import('./token-file.js')).create,
  redis: async () => (await import('./redis.js')).create,
  jwt: async () => (await import('./jwt.js')).create,
  http: async () => (await import('./http-api.js')).create,
  'guacamole-lite': async () => (await import('./guacamole-lite.js')).create,
};

export const RESOLVER_TYPES = Object.keys(LOADERS);

export async function loadResolverFactory(type: string): Promise<ResolverFactory | undefined> {
  return LOADERS[type]?.();
}
