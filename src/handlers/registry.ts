// Finds the handler a route names: a built-in, or a module path resolved
// against the config file's folder (a plugin). Loaded once, at startup, so
// a broken plugin stops startup instead of failing the first client.
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RouteConfig } from '../config/types.js';
import { ConfigError, configError } from '../config/errors.js';
import { closedObject, validateAgainst, type FieldsSchema } from '../config/validate.js';
import type { Logger } from '../observability/logger.js';
import type { Handler, HandlerContext, HandlerFactory } from './types.js';
import { createEcho } from './echo.js';
import { createThreads } from './threads.js';
import { createTcpProxy } from './tcp-proxy.js';
import { createGuacamole } from './guacamole.js';

const BUILT_IN: Record<string, HandlerFactory> = {
  echo: createEcho,
  threads: createThreads,
  'tcp-proxy': createTcpProxy,
  guacamole: createGuacamole,
};

export const BUILT_IN_HANDLERS = Object.keys(BUILT_IN);

export async function createHandler(route: RouteConfig, baseDir: string, log: Logger): Promise<Handler<unknown>> {
  const at = (field: string) => ['routes', route.index, ...(field ? [field] : [])];
  const locate = (path: ReadonlyArray<string | number>) => route.sources[String(path[2] ?? '')] ?? route.sources[''];
  const ctx: HandlerContext = {
    route,
    log: log.child({ route: route.path }),
    options<T>(schema: FieldsSchema): T {
      validateAgainst(closedObject(schema), route.options, ['routes', route.index], locate);
      return route.options as T;
    },
    invalid(field: string | string[], message: string): never {
      throw configError(locate, Array.isArray(field) ? ['routes', route.index, ...field] : at(field), message);
    },
    validate(schema: object, value: unknown, path: string[]): void {
      validateAgainst(schema, value, ['routes', route.index, ...path], locate);
    },
    baseDir,
  };
  const factory = BUILT_IN[route.handler] ?? (await loadPlugin(route, baseDir, locate));
  return factory(ctx);
}

async function loadPlugin(route: RouteConfig, baseDir: string, locate: (p: ReadonlyArray<string | number>) => string | undefined): Promise<HandlerFactory> {
  const spec = route.handler;
  const field = ['routes', route.index, 'handler'];
  if (!spec.startsWith('.') && !isAbsolute(spec)) {
    throw configError(locate, field, `unknown handler "${spec}" (built-in: ${BUILT_IN_HANDLERS.join(', ')}; a plugin is a path like ./my-plugin.js)`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(resolve(baseDir, spec)).href);
  } catch (e) {
    throw configError(locate, field, `cannot load plugin ${spec}: ${(e as Error).message}`);
  }
  const factory = mod.createHandler ?? mod.default;
  if (typeof factory === 'function') return factory as HandlerFactory;
  if (factory && typeof factory === 'object' && typeof (factory as Handler).connect === 'function') return () => factory as Handler;
  throw new ConfigError(`${locate(field) ?? spec}: plugin ${spec} must export a handler factory (default export or createHandler) or a handler object with connect()`);
}
