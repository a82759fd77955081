// Server stores (PostgreSQL, MariaDB/MySQL, Redis) are named either by a URL
// or by its parts (host, port, user, ...), never both: the two could
// disagree, and which one wins would be a guess.
import type { ResolverEnv } from './types.js';

/** The first of `parts` the block sets (undefined if none); refuses a block that sets `url` as well. */
export function urlOrParts<O extends { url?: string }, K extends keyof O & string>(env: Pick<ResolverEnv, 'invalid'>, opts: O, parts: readonly K[]): K | undefined {
  const given = parts.find((part) => opts[part] !== undefined);
  if (opts.url !== undefined && given !== undefined) env.invalid(given, `give either url or ${parts.join('/')}, not both`);
  return given;
}
