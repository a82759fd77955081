// websockify's --auth-plugin/--auth-source, mapped to wsgate's edge policy
// so that existing command lines keep working:
//   BasicHTTPAuth     user:password    -> auth: [{ type: basic, user, password }]
//   ExpectOrigin      "ORIGIN ..."     -> origin: [ORIGIN, ...], originRequired: true
//                                         (websockify refuses a request without an Origin)
//   ClientCertCNAuth  "CN ..."         -> auth: [{ type: cert, subjects: [CN, ...] }]
import { ConfigError } from '../config/errors.js';

export interface AuthPluginFields {
  /** Top-level fields (the origin rule). */
  top: Record<string, unknown>;
  /** The route's auth list. */
  auth?: Array<Record<string, unknown>>;
}

export function authFromPlugin(plugin: string, source: string | undefined): AuthPluginFields {
  const name = plugin.replace(/^websockify\.auth_plugins\./, '');
  const need = () => {
    if (source === undefined || source.trim() === '') throw new ConfigError(`--auth-plugin ${plugin} needs --auth-source`);
    return source;
  };
  switch (name) {
    case 'BasicHTTPAuth': {
      const s = need();
      const colon = s.indexOf(':');
      if (colon <= 0) throw new ConfigError('--auth-source for BasicHTTPAuth is user:password');
      return { top: {}, auth: [{ type: 'basic', user: s.slice(0, colon), password: s.slice(colon + 1) }] };
    }
    case 'ExpectOrigin':
      return { top: { origin: need(), originRequired: true } };
    case 'ClientCertCNAuth':
      return { top: {}, auth: [{ type: 'cert', subjects: need().split(/\s+/).filter((s) => s !== '') }] };
    default:
      throw new ConfigError(`--auth-plugin ${plugin}: unknown (websockify's BasicHTTPAuth, ExpectOrigin or ClientCertCNAuth; in a config file, routes take auth: and origin:)`);
  }
}
