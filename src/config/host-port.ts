// host:port, the one way every part of wsgate reads and writes it: listen
// addresses and targets in the config and on the command line, token files,
// Redis and HTTP API values, `wsgate tokens add`, allowlist entries, and the
// names in logs and errors.
//
// The IPv6 rule: the port is what follows the last colon. An IPv6 host may be
// written in brackets ("[::1]:5900", always accepted) or bare ("::1:5900", as
// websockify's token files allow) when what precedes that colon is an IPv6
// address; any other host with a colon is refused. Where the port may be left
// out (allowlist entries), a bare IPv6 address is refused instead: its last
// group could not be told from a port. Written back, an IPv6 host always gets
// brackets.
import net from 'node:net';
import { ConfigValueError } from './units.js';

/**
 * The host and the port text of "host:port", "[v6]:port" or "v6:port";
 * `hostOptional` also allows "port" and ":port" (host undefined), `portOptional`
 * allows "host" and "[v6]" (port undefined). Throws a ConfigValueError.
 */
export function splitHostPort(text: string, opts: { hostOptional?: boolean; portOptional?: boolean } = {}): { host?: string; port?: string } {
  const s = text.trim();
  let host: string | undefined;
  let port: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    const rest = s.slice(end + 1);
    if (end < 0 || (rest !== '' && !rest.startsWith(':')) || (rest === '' && !opts.portOptional)) throw new ConfigValueError(`"${text}" is not [ipv6]:port`);
    host = s.slice(1, end);
    if (host === '' || /[\s[\]]/.test(host)) throw new ConfigValueError(`"${text}" has no address in its brackets`);
    port = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) {
      if (opts.portOptional) host = s;
      else if (opts.hostOptional) port = s;
      else throw new ConfigValueError(`expected host:port (got "${text}")`);
    } else {
      host = s.slice(0, colon);
      port = s.slice(colon + 1);
      if (host.includes(':') && (opts.portOptional || net.isIP(host) !== 6)) {
        throw new ConfigValueError(`"${text}": ${opts.portOptional ? 'write IPv6 addresses in brackets, e.g. [::1]:5900' : 'a host with a colon must be an IPv6 address (as [::1]:5900 or ::1:5900)'}`);
      }
    }
    if (host !== undefined && /[\s[\]]/.test(host)) throw new ConfigValueError(`"${text}": bad host "${host}"`);
  }
  if (host === '') host = undefined;
  if (host === undefined && !opts.hostOptional) throw new ConfigValueError(`"${text}" has no host`);
  return { host, port };
}

/** Config and CLI addresses: the port a number 0..65535 or a service name (e.g. "vnc-server"); see splitHostPort. */
export function parseHostPort(text: string, opts: { hostOptional?: boolean } = {}): { host?: string; port: number | string } {
  const { host, port } = splitHostPort(text, opts);
  return { host, port: parsePort(port!) };
}

/** A target as token stores and `wsgate tokens add` write it: a host and a port number 1..65535. */
export function parseTarget(text: string): { host: string; port: number } {
  const { host, port } = splitHostPort(text);
  return { host: host!, port: parsePortNumber(port!, 1) };
}

/** A port number 0..65535, or a service name such as "echo" or "vnc-server". */
export function parsePort(text: string | number): number | string {
  if (typeof text === 'string' && /^[A-Za-z][A-Za-z0-9_.+-]*$/.test(text)) return text;
  if (typeof text === 'number' || /^\d+$/.test(text)) return parsePortNumber(String(text), 0);
  throw new ConfigValueError(`bad port "${text}": neither a port number nor a service name`);
}

function parsePortNumber(text: string, lowest: number): number {
  if (!/^\d+$/.test(text)) throw new ConfigValueError(`bad port "${text}": not a number`);
  const n = Number(text);
  if (n < lowest || n > 65535) throw new ConfigValueError(`bad port "${text}": out of range ${lowest}..65535`);
  return n;
}

/** "host:port", with an IPv6 host in brackets ("[::1]:5900"). */
export function formatHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The message of a network error, its address written as formatHostPort
 * does: Node says "connect ECONNREFUSED ::1:5432", which reads as the host
 * "::1:5432"; this says "connect ECONNREFUSED [::1]:5432".
 */
export function networkErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const { address, port } = (err ?? {}) as { address?: unknown; port?: unknown };
  if (typeof address !== 'string' || !address.includes(':') || (typeof port !== 'number' && typeof port !== 'string')) return message;
  return message.split(`${address}:${port}`).join(formatHostPort(address, port));
}
