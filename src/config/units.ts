// Parsers for the small value languages of the config file and the CLI:
// sizes ("32MiB") and durations in seconds (addresses: host-port.ts).
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
