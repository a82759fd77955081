// The Origin check: a browser names the page that opens a WebSocket in the
// Origin header, and the same-origin policy does not protect WebSockets, so
// without this check any web page could open sessions with the visitor's
// cookies and network position. Non-browser clients send no Origin; they
// pass unless the route sets originRequired. A refusal is a 403 before the
// 101 in every refusal mode, with the origin in the log line.
import type { IncomingMessage } from 'node:http';
import type { OriginPolicy, TrustedOrigin } from '../../config/types.js';
import { requestScheme } from '../client-address.js';
import type { Refusal } from './refusal.js';

/** The Origin a browser sent (hybi-08 clients, version 8, call it Sec-WebSocket-Origin, as `ws` reads it). */
export function requestOrigin(req: IncomingMessage): string | undefined {
  return req.headers['sec-websocket-version'] === '8' ? (req.headers['sec-websocket-origin'] as string | undefined) : req.headers.origin;
}

export function checkOrigin(policy: OriginPolicy, required: boolean, req: IncomingMessage): Refusal | null {
  const origin = requestOrigin(req);
  if (origin === undefined) return required ? { status: 403, reason: 'no Origin header, and this route requires one' } : null;
  if (policy.kind === 'off' || allowed(policy, origin, req)) return null;
  return { status: 403, reason: `origin not allowed (${policy.kind === 'list' ? 'not a trusted origin' : policy.kind})`, fields: { origin: origin.slice(0, 256) } };
}

function allowed(policy: OriginPolicy, origin: string, req: IncomingMessage): boolean {
  const o = parse(origin);
  if (!o) return false; // "null" (sandboxed frames, file:) and garbage name no host
  switch (policy.kind) {
    case 'same-host': {
      const host = hostHeader(req, o.scheme);
      return host !== null && web(o.scheme) && o.host === host.host;
    }
    case 'same': {
      const scheme = requestScheme(req);
      const host = hostHeader(req, scheme);
      return host !== null && o.scheme === scheme && o.host === host.host && o.port === host.port;
    }
    case 'list':
      return policy.origins.some((t) => matches(t, o));
    default:
      return true;
  }
}

function matches(t: TrustedOrigin, o: { scheme: string; host: string; port: string }): boolean {
  if (t.scheme !== o.scheme || t.port !== o.port) return false;
  return t.subdomains ? o.host.endsWith(`.${t.host}`) : o.host === t.host;
}

const web = (scheme: string) => scheme === 'http:' || scheme === 'https:';

/** scheme, host (lower case, IPv6 in brackets) and port ("" for the default) of an origin; null if it is none. */
function parse(origin: string): { scheme: string; host: string; port: string } | null {
  try {
    const u = new URL(origin);
    if (u.hostname === '' || u.username || u.password || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) return null;
    return { scheme: u.protocol, host: u.hostname.toLowerCase(), port: u.port };
  } catch {
    return null;
  }
}

/** The host (and port) the client addressed, from the Host header, normalized as an origin under `scheme`. */
function hostHeader(req: IncomingMessage, scheme: string): { host: string; port: string } | null {
  const host = req.headers.host;
  if (!host || /[/?#@\s]/.test(host)) return null;
  try {
    const u = new URL(`${web(scheme) ? scheme : 'http:'}//${host}`);
    return { host: u.hostname.toLowerCase(), port: u.port };
  } catch {
    return null;
  }
}
