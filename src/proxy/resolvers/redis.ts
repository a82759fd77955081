import type { ResolverFactory } from './types.js';

export const create: ResolverFactory = (env) => env.invalid('type', 'this resolver type is not implemented yet');
