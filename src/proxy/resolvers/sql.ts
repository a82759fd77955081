import type { ResolverFactory } from './types.js';

const notYet: ResolverFactory = (env) => env.invalid('type', 'this resolver type is not implemented yet');
export const createSqlite = notYet;
export const createPostgres = notYet;
export const createMysql = notYet;
