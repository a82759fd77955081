// A symmetric key a resolver is given in its config: from a file or from an
// environment variable, never inline (a config file gets copied around).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ResolverEnv } from './types.js';

export interface KeySource {
  /** A file holding the key (a trailing newline is ignored). */
  keyFile?: string;
  /** An environment variable holding it. */
  keyEnv?: string;
}

export const KEY_SOURCE_SCHEMA = { keyFile: { type: 'string', minLength: 1 }, keyEnv: { type: 'string', minLength: 1 } } as const;

/** The key's text from keyFile or keyEnv (exactly one must be given); config errors name the field. */
export function readKeyText(env: ResolverEnv, opts: KeySource, what: string): { text: string; field: 'keyFile' | 'keyEnv' } {
  if ((opts.keyFile === undefined) === (opts.keyEnv === undefined)) env.invalid('keyFile', `give keyFile or keyEnv (${what}), one of them`);
  if (opts.keyFile !== undefined) {
    const file = path.resolve(env.baseDir, opts.keyFile);
    try {
      return { text: readFileSync(file, 'utf8').replace(/\r?\n$/, ''), field: 'keyFile' };
    } catch (e) {
      env.invalid('keyFile', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const value = process.env[opts.keyEnv!];
  if (value === undefined) env.invalid('keyEnv', `the environment has no ${opts.keyEnv}`);
  return { text: value, field: 'keyEnv' };
}
