// Port names from /etc/services, as the original module accepted them
// (its default port was "echo"). Read once, on first use.
import { readFileSync } from 'node:fs';

let table: Map<string, number> | null = null;

export function parseServices(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    const m = fields.length >= 2 ? /^(\d+)\/tcp$/.exec(fields[1]!) : null;
    if (!m) continue;
    for (const name of [fields[0]!, ...fields.slice(2)]) if (!map.has(name)) map.set(name, Number(m[1]));
  }
  return map;
}

/** The TCP port of a service name, or undefined if /etc/services does not list it. */
export function lookupService(name: string, file = '/etc/services'): number | undefined {
  if (!table) {
    try {
      table = parseServices(readFileSync(file, 'utf8'));
    } catch {
      table = new Map([['echo', 7]]); // the one name the original relied on by default
    }
  }
  return table.get(name);
}
