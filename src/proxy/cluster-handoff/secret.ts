// The shared secret of the hand-off, from a file, an environment variable or
// (discouraged) the config itself. It is held as bytes inside an object that
// prints as "[secret]" however it is logged, stringified or inspected, so a
// log line or an error that picks it up by accident shows nothing.
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';

export class Secret {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** The secret's bytes: for hashing only. */
  get bytes(): Buffer {
    return this.#bytes;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return 'Secret [redacted]';
  }
}

export type SecretSource = { file: string } | { env: string } | { inline: string };

/**
 * Reads a secret. Trailing line breaks are dropped (a file written with
 * `echo` ends with one); anything else, spaces included, is part of it.
 * Throws an Error whose message names the source, never the content.
 */
export function loadSecret(source: SecretSource): Secret {
  let text: string;
  let where: string;
  if ('file' in source) {
    where = `secret file ${source.file}`;
    try {
      text = readFileSync(source.file, 'utf8');
    } catch (e) {
      throw new Error(`cannot read the ${where}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else if ('env' in source) {
    where = `environment variable ${source.env}`;
    const value = process.env[source.env];
    if (value === undefined) throw new Error(`the ${where} is not set`);
    text = value;
  } else {
    where = 'inline secret';
    text = source.inline;
  }
  text = text.replace(/[\r\n]+$/, '');
  if (text === '') throw new Error(`the ${where} is empty`);
  return new Secret(Buffer.from(text, 'utf8'));
}
