// Parsers for the small value languages of the config file and the CLI:
// sizes ("32MiB"), durations in seconds, and listen/target addresses.
// Pure functions: each returns a value or throws a ConfigValueError whose
// message completes the sentence "field X: ...".

export class ConfigValueError extends Error {}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3,
};

/** A byte count: a non-negative integer or a string like "16KiB", "32 MiB", "1.5MB". */
export function parseSize(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (m && unit !== undefined) return Math.round(Number(m[1]) * unit);
  }
  throw new ConfigValueError(`must be a byte count such as 1048576 or "32MiB" (got ${JSON.stringify(value)})`);
}

/** A duration given in seconds (websockify's unit), returned in milliseconds. */
export function parseSeconds(value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isFinite(n) && n >= 0) return Math.round(n * 1000);
  throw new ConfigValueError(`must be a number of seconds >= 0 (got ${JSON.stringify(value)})`);
}

export interface HostPort {
  host: string;
  /** A port number, or a service name still to be looked up in /etc/services. */
  port: number | string;
}

/**
 * "host:port", "[v6]:port", "port" (host defaults to undefined), or a bare v6
 * address with a port after the last colon is refused: IPv6 needs brackets.
 */
export function parseHostPort(text: string, opts: { hostOptional?: boolean } = {}): { host?: string; port: number | string } {
  const s = text.trim();
  let host: string | undefined;
  let port: string;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || s[end + 1] !== ':') throw new ConfigValueError(`"${text}" is not [ipv6]:port`);
    host = s.slice(1, end);
    port = s.slice(end + 2);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) {
      if (!opts.hostOptional) throw new ConfigValueError(`"${text}" is not host:port`);
      port = s;
    } else {
      host = s.slice(0, colon);
      port = s.slice(colon + 1);
      if (host.includes(':')) throw new ConfigValueError(`"${text}": write IPv6 addresses in brackets, e.g. [::1]:5900`);
    }
  }
  if (host === '') host = undefined;
  if (host === undefined && !opts.hostOptional) throw new ConfigValueError(`"${text}" has no host`);
  return { host, port: parsePort(port) };
}

/** A port number 1..65535, or a service name such as "echo" or "vnc-server". */
export function parsePort(text: string | number): number | string {
  if (typeof text === 'number' || /^\d+$/.test(text)) {
    const n = Number(text);
    if (Number.isInteger(n) && n >= 0 && n <= 65535) return n;
    throw new ConfigValueError(`port ${text} is out of range 0..65535`);
  }
  if (/^[A-Za-z][A-Za-z0-9_.+-]*$/.test(text)) return text;
  throw new ConfigValueError(`"${text}" is neither a port number nor a service name`);
}
