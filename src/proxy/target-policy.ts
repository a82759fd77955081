// Which backends a route may reach, whatever its store says: entries like
// "10.0.0.0/8:5900-5999", "[::1]:5901", "vnc-*.example.com:5900" or
// "192.168.1.7" (any port); an IPv6 host in brackets, as the port may be left
// out (src/config/host-port.ts). IP ranges match IP-literal targets; host name
// patterns match the name as the store wrote it (before DNS), so a name is
// never let through by an IP range it might resolve into.
import net from 'node:net';
import { splitHostPort } from '../config/host-port.js';

interface Rule {
  ips?: net.BlockList;
  hostPattern?: RegExp;
  ports: [number, number];
}

export class TargetPolicy {
  readonly #rules: Rule[];

  /** Throws an Error with a message fit for "allow[i]: ..." on a malformed entry. */
  constructor(entries: string[]) {
    this.#rules = entries.map(parseRule);
  }

  allows(host: string, port: number): boolean {
    const family = net.isIP(host);
    return this.#rules.some((rule) => {
      if (port < rule.ports[0] || port > rule.ports[1]) return false;
      if (family) return rule.ips?.check(host, family === 6 ? 'ipv6' : 'ipv4') ?? false;
      return rule.hostPattern?.test(host.toLowerCase()) ?? false;
    });
  }
}

function parseRule(entry: string): Rule {
  let host: string;
  let ports: string | undefined;
  try {
    ({ host, port: ports } = splitHostPort(entry, { portOptional: true }) as { host: string; port?: string });
  } catch (e) {
    throw new Error(`"${entry}" is not HOST[:PORT[-PORT]] (${(e as Error).message})`);
  }
  const m = ports === undefined ? [] : /^(\d+)(?:-(\d+))?$/.exec(ports);
  if (!m) throw new Error(`"${entry}" is not HOST[:PORT[-PORT]]`);
  const low = m[1] === undefined ? 1 : Number(m[1]);
  const high = m[2] === undefined ? (m[1] === undefined ? 65535 : low) : Number(m[2]);
  if (low < 1 || high > 65535 || low > high) throw new Error(`"${entry}": bad port range`);
  const [address, bits] = host.split('/');
  const family = net.isIP(address!);
  if (family) {
    const ips = new net.BlockList();
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) ips.addAddress(address!, type);
    else {
      const prefix = Number(bits);
      if (!/^\d+$/.test(bits) || prefix > (family === 6 ? 128 : 32)) throw new Error(`"${entry}": bad prefix length /${bits}`);
      ips.addSubnet(address!, prefix, type);
    }
    return { ips, ports: [low, high] };
  }
  if (bits !== undefined || !/^[A-Za-z0-9*.-]+$/.test(host)) throw new Error(`"${entry}": not an IP range or host name pattern`);
  const pattern = host.toLowerCase().replace(/[.]/g, '\\.').replace(/\*/g, '[a-z0-9-]*');
  return { hostPattern: new RegExp(`^${pattern}$`), ports: [low, high] };
}
