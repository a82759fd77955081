// Where a client's token rides, and whether it is well-formed. The checks
// run before any lookup, so a token that could smuggle SQL or flood a store
// never reaches one. Refusals say which carrier was looked at and why; the
// token itself is never logged (a short fingerprint is).
import type { IncomingHttpHeaders } from 'node:http';

export type Carrier = 'query' | 'cookie' | 'host';

export interface TokenRules {
  from: Carrier[];
  /** Query parameter and cookie names, tried in order. */
  names: string[];
  pattern: RegExp;
  maxLength: number;
}

/** The original module's key alphabet: letters, digits and , - + = / _ */
export const ORIGINAL_ALPHABET = '^[A-Za-z0-9,\\-+=/_]+$';
/** JWTs and host names also need dots. */
export const DOTTED_ALPHABET = '^[A-Za-z0-9,\\-+=/_.]+$';

export type TokenResult = { ok: true; token: string; carrier: Carrier } | { ok: false; carrier: string; why: string };

export function findToken(url: URL, headers: IncomingHttpHeaders, rules: TokenRules): TokenResult {
  let found: { token: string; carrier: Carrier; name: string } | null = null;
  for (const carrier of rules.from) {
    found = lookIn(carrier, url, headers, rules.names);
    if (found) break;
  }
  const looked = rules.from.map((c) => (c === 'host' ? 'Host header' : `${c} ${rules.names.join('/')}`)).join(', ');
  if (!found) return { ok: false, carrier: looked, why: 'no token' };
  const where = found.carrier === 'host' ? 'Host header' : `${found.carrier} ${found.name}`;
  const { token } = found;
  if (token.length === 0) return { ok: false, carrier: where, why: 'empty token' };
  if (token.length > rules.maxLength) return { ok: false, carrier: where, why: `token longer than ${rules.maxLength} characters` };
  if (!rules.pattern.test(token)) return { ok: false, carrier: where, why: 'token has characters outside the allowed set' };
  return { ok: true, token, carrier: found.carrier };
}

function lookIn(carrier: Carrier, url: URL, headers: IncomingHttpHeaders, names: string[]): { token: string; carrier: Carrier; name: string } | null {
  if (carrier === 'host') {
    const host = headers.host;
    if (!host) return null;
    // Without the port; a bracketed IPv6 host is not a token.
    return { token: host.startsWith('[') ? '' : host.replace(/:\d+$/, ''), carrier, name: 'Host' };
  }
  for (const name of names) {
    const value = carrier === 'query' ? url.searchParams.get(name) : cookie(headers.cookie, name);
    if (value !== null) return { token: value, carrier, name };
  }
  return null;
}

/** The value of one cookie (percent-decoded), or null. */
export function cookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return null;
}
