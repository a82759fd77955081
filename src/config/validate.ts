// Schema validation with errors that name the field and its line.
import AjvModule, { type ErrorObject } from 'ajv';
import { configError, type Locator } from './errors.js';

const Ajv = AjvModule.default;
const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

/** Throws a ConfigError for the first schema violation of `value` found at `basePath`. */
export function validateAgainst(schema: object, value: unknown, basePath: ReadonlyArray<string | number>, locate: Locator): void {
  let check = compiled.get(schema);
  if (!check) {
    check = ajv.compile(schema);
    compiled.set(schema, check);
  }
  if (check(value)) return;
  const err = check.errors![0]!;
  throw configError(locate, [...basePath, ...pathOf(err)], describe(err));
}

function pathOf(err: ErrorObject): Array<string | number> {
  const parts = err.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path: Array<string | number> = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  if (err.keyword === 'additionalProperties') path.push(String(err.params.additionalProperty));
  if (err.keyword === 'required') path.push(String(err.params.missingProperty));
  return path;
}

function describe(err: ErrorObject): string {
  switch (err.keyword) {
    case 'additionalProperties': return 'unknown field';
    case 'required': return 'is required';
    case 'enum': return `must be one of ${(err.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'anyOf': return 'has the wrong type or format';
    default: return err.message ?? 'is invalid';
  }
}
