// websockify's --token-plugin/--token-source names, mapped to wsgate's
// resolver blocks, so existing command lines keep working. wsgate's own
// type names (sqlite, postgres, mysql, file, redis, jwt, http) work too.
import { ConfigError } from '../config/errors.js';

export function resolverFromPlugin(plugin: string, source: string | undefined): Record<string, unknown> {
  const name = plugin.replace(/^websockify\.token_plugins\./, '');
  const need = () => {
    if (source === undefined || source === '') throw new ConfigError(`--token-plugin ${plugin} needs --token-source`);
    return source;
  };
  switch (name) {
    case 'TokenFile':
    case 'ReadOnlyTokenFile':
    case 'file':
      return { type: 'file', path: need() };
    case 'TokenRedis':
    case 'redis':
      return { type: 'redis', ...redisSource(source ?? '') };
    case 'JWTTokenApi':
    case 'jwt':
      return { type: 'jwt', keyFile: need() };
    case 'BaseTokenAPI':
    case 'http':
      return { type: 'http', url: need() };
    case 'sqlite':
      return source ? { type: 'sqlite', path: source } : { type: 'sqlite' };
    case 'postgres':
    case 'mysql':
      return { type: name, url: need() };
    default:
      throw new ConfigError(
        `--token-plugin ${plugin}: unknown (websockify's TokenFile, ReadOnlyTokenFile, TokenRedis, JWTTokenApi, BaseTokenAPI, or sqlite, postgres, mysql, file, redis, jwt, http)`,
      );
  }
}

/** websockify's TokenRedis source: host[:port[:db[:password[:namespace]]]], or a redis:// URL. */
function redisSource(source: string): Record<string, unknown> {
  if (source === '') return {};
  if (/^rediss?:\/\//.test(source)) return { url: source };
  const [host, port, db, password, namespace] = source.split(':');
  const url = new URL('redis://127.0.0.1:6379');
  if (host) url.hostname = host;
  if (port) url.port = port;
  if (db) url.pathname = `/${db}`;
  if (password) url.password = password;
  return { url: url.href, ...(namespace ? { prefix: namespace.endsWith(':') ? namespace : `${namespace}:` } : {}) };
}
