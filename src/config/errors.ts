/** A configuration problem; its message names the field and, for files, FILE:LINE. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Where each field of a config came from ("file.yaml:12"), for messages. */
export type Locator = (path: ReadonlyArray<string | number>) => string | undefined;

/** routes[0].target style name of a field path. */
export function fieldName(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(top level)';
}

export function configError(locate: Locator, path: ReadonlyArray<string | number>, message: string): ConfigError {
  const where = locate(path);
  return new ConfigError(`${where ? where + ': ' : ''}${fieldName(path)}: ${message}`);
}
