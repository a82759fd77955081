// websockify-compatible token files: `token: host:port` lines, `#` comments,
// blank lines; a file or a directory of such files. Parsed as websockify's
// ReadOnlyTokenFile does (split once on a colon followed by whitespace, the
// target on its last colon, so "::1:5900" and "[::1]:5900" are both IPv6:
// src/config/host-port.ts),
// but stricter in one way: a bad line rejects the whole reload (the last good
// table stays, with a warning naming file and line) instead of being skipped,
// so a half-saved file never drops tokens. At startup a bad or missing file
// is a configuration error. Lookups are served from memory (see reloading-files.ts).
import path from 'node:path';
import { throwIfAborted } from './aborting.js';
import { ReloadingFiles, type FileText } from './reloading-files.js';
import type { ResolvedTarget, ResolverFactory, TargetResolver } from './types.js';
import { ConfigValueError } from '../../config/units.js';
import { parseTarget } from '../../config/host-port.js';

interface Target {
  host: string;
  port: number;
}

/** token → target for every line of `files`; later lines (and files, in name order) win. Throws naming file and line. */
export function parseTokenFiles(files: FileText[]): Map<string, Target> {
  const table = new Map<string, Target>();
  for (const { file, text } of files) {
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      const fail = (why: string): never => {
        throw new Error(`${file} line ${i + 1}: ${why}`);
      };
      const parts = line.split(/:\s/);
      if (parts.length !== 2 || parts[0] === '') fail('expected "token: host:port"');
      try {
        table.set(parts[0]!, parseTarget(parts[1]!));
      } catch (e) {
        if (e instanceof ConfigValueError) fail(e.message);
        throw e;
      }
    }
  }
  return table;
}

export const create: ResolverFactory = async (env) => {
  const opts = env.options<{ path: string }>({
    properties: { path: { type: 'string', minLength: 1 } },
    required: ['path'],
  });
  const source = path.resolve(env.baseDir, opts.path);
  const table = await ReloadingFiles.open({ path: source, parse: parseTokenFiles, log: env.log, what: 'token file' }).catch((err: Error) =>
    env.invalid('path', err.message),
  );
  env.log.debug({ path: source, tokens: table.value.size }, 'token file loaded');
  return new TokenFileResolver(table);
};

class TokenFileResolver implements TargetResolver {
  readonly kind = 'file';
  readonly #table: ReloadingFiles<Map<string, Target>>;

  constructor(table: ReloadingFiles<Map<string, Target>>) {
    this.#table = table;
  }

  async resolve(token: string, signal: AbortSignal): Promise<ResolvedTarget | null> {
    throwIfAborted(signal, this.kind);
    const hit = this.#table.value.get(token);
    return hit ? { host: hit.host, port: hit.port, params: {} } : null;
  }

  async close(): Promise<void> {
    this.#table.close();
  }
}
