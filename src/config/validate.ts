// Schema validation with errors that name the field and its line.
import AjvModule, { type ErrorObject } from 'ajv';
import { configError, type Locator } from './errors.js';

const Ajv = AjvModule.default;
type Validator = ReturnType<InstanceType<typeof Ajv>['compile']>;

// Made on first use and dropped by releaseValidators() once the gateway runs:
// every validation happens at startup, and the instance with its compiled
// schemas would otherwise stay in the heap that every garbage collection of
// the relay has to mark (docs/performance.md).
let ajv: InstanceType<typeof Ajv> | null = null;
let compiled = new WeakMap<object, Validator>();

export function releaseValidators(): void {
  ajv = null;
  compiled = new WeakMap();
}

/** The JSON Schema of a block's own fields (a route's handler fields, a resolver's): what options() takes. */
export interface FieldsSchema {
  properties: Record<string, object>;
  required?: string[];
}

/** The schema a block's fields are checked against: an object with those fields and no others. */
export function closedObject(schema: FieldsSchema): object {
  return { type: 'object', additionalProperties: false, ...schema };
}

/** Throws a ConfigError for the first schema violation of `value` found at `basePath`. */
export function validateAgainst(schema: object, value: unknown, basePath: ReadonlyArray<string | number>, locate: Locator): void {
  let check = compiled.get(schema);
  if (!check) {
    ajv ??= new Ajv({ allErrors: false, strict: false });
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
