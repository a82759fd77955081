// SQL resolvers: SQLite (the embedded default), PostgreSQL, MariaDB/MySQL.
// Either the user's own query (the original module's semantics: the token
// is the one bound parameter; the first row with `connecthost` and
// `connectport` wins; every non-null column becomes a session parameter),
// or, without a query, the built-in tokens table that `wsgate tokens`
// manages (expiry, single use, revocation).
import { resolve as resolvePath } from 'node:path';
import type { Logger } from '../../observability/logger.js';
import { DEFAULT_TABLE, REVOKE_CHANNEL, TABLE_NAME, TokensTable, tokenState } from './tokens-table.js';
import { firstTarget, type RecordKeys } from './record.js';
import { openDriver, type ServerSpec, type SqlDriver } from './sql-driver.js';
import { translatePlaceholders, type Dialect, type TranslatedQuery } from './sql-placeholders.js';
import { urlOrParts } from './url-or-parts.js';
import { refusal, type LookupAnswer, type ResolverEnv, type ResolverFactory, type TargetResolver } from './types.js';

export const DEFAULT_SQLITE_FILE = 'wsgate-tokens.db';

interface LookupOptions {
  query?: string;
  table?: string;
}

const LOOKUP_PROPERTIES = {
  query: { type: 'string', minLength: 1 },
  table: { type: 'string', pattern: TABLE_NAME.source },
};

const SERVER_PROPERTIES = {
  ...LOOKUP_PROPERTIES,
  url: { type: 'string', minLength: 1 },
  host: { type: 'string', minLength: 1 },
  port: { type: 'integer', minimum: 1, maximum: 65535 },
  user: { type: 'string' },
  password: { type: 'string' },
  database: { type: 'string', minLength: 1 },
  poolSize: { type: 'integer', minimum: 1, maximum: 1000 },
};

type ServerOptions = LookupOptions & Omit<ServerSpec, 'dialect' | 'log'>;

/** `resolver: { type: sqlite, path?: wsgate-tokens.db, query? | table? }` */
export const createSqlite: ResolverFactory = async (env) => {
  const o = env.options<LookupOptions & { path?: string }>({ properties: { ...LOOKUP_PROPERTIES, path: { type: 'string', minLength: 1 } } });
  const lookup = lookupOf(env, 'sqlite', o);
  // A custom query only reads: open the user's file read-only.
  const driver = await openDriver({ dialect: 'sqlite', path: resolvePath(env.baseDir, o.path ?? DEFAULT_SQLITE_FILE), readonly: 'query' in lookup });
  return new SqlResolver('sqlite', driver, lookup, env.log, env.keys.sql);
};

/** `resolver: { type: postgres, url? | host/port/user/password/database, query? | table?, poolSize? }` */
export const createPostgres: ResolverFactory = (env) => createServer(env, 'postgres');

/** `resolver: { type: mysql, url? | host/port/user/password/database, query? | table?, poolSize? }` */
export const createMysql: ResolverFactory = (env) => createServer(env, 'mysql');

async function createServer(env: ResolverEnv, dialect: 'postgres' | 'mysql'): Promise<TargetResolver> {
  const { query, table, ...connection } = env.options<ServerOptions>({ properties: SERVER_PROPERTIES });
  urlOrParts(env, connection, ['host', 'port', 'user', 'password', 'database']);
  if (connection.url !== undefined) {
    try {
      new URL(connection.url);
    } catch {
      env.invalid('url', `not a URL (e.g. ${dialect === 'postgres' ? 'postgres://user@127.0.0.1:5432/db' : 'mysql://user@127.0.0.1:3306/db'})`);
    }
  }
  const lookup = lookupOf(env, dialect, { query, table });
  const driver = await openDriver({ dialect, ...connection, log: env.log });
  return new SqlResolver(dialect, driver, lookup, env.log, env.keys.sql);
}

/** The user's query, or the built-in tokens table's name. */
type Lookup = { query: TranslatedQuery } | { table: string };

function lookupOf(env: ResolverEnv, dialect: Dialect, o: LookupOptions): Lookup {
  if (o.query === undefined) return { table: o.table ?? DEFAULT_TABLE };
  if (o.table !== undefined) env.invalid('table', 'give either query (your own table) or table (the built-in tokens table), not both');
  try {
    return { query: translatePlaceholders(o.query, dialect) };
  } catch (e) {
    env.invalid('query', (e as Error).message);
  }
}

class SqlResolver implements TargetResolver {
  readonly #keys: RecordKeys;
  readonly kind: string;
  readonly #driver: SqlDriver;
  readonly #query: TranslatedQuery | null;
  readonly #tokens: TokensTable | null;
  readonly #log: Logger;
  #listeners: Array<{ stop(): Promise<void> }> = [];
  /** Present on PostgreSQL only: revocations arrive by LISTEN/NOTIFY. */
  readonly watchRevocations?: (onRevoke: (token: string) => void) => Promise<void>;

  constructor(kind: string, driver: SqlDriver, lookup: Lookup, log: Logger, keys: RecordKeys) {
    this.#keys = keys;
    this.kind = kind;
    this.#driver = driver;
    this.#query = 'query' in lookup ? lookup.query : null;
    this.#tokens = 'table' in lookup ? new TokensTable(driver, lookup.table) : null;
    this.#log = log;
    if (driver.listen) {
      const listen = driver.listen.bind(driver);
      this.watchRevocations = (onRevoke) => {
        const listener = listen(REVOKE_CHANNEL, onRevoke, this.#log);
        this.#listeners.push(listener);
        return listener.listening;
      };
    }
  }

  async resolve(token: string, signal: AbortSignal): Promise<LookupAnswer> {
    // No store holds a NUL, and PostgreSQL would fail on it rather than say "no such token".
    if (token === '' || token.includes('\0')) return null;
    if (this.#query) {
      const rows = await this.#driver.rows(this.#query.sql, new Array<string>(this.#query.count).fill(token), signal);
      return firstTarget(rows, this.#keys);
    }
    const record = await this.#tokens!.get(token, signal);
    if (!record) return null;
    const state = tokenState(record);
    if (state !== 'active') return refusal(state);
    // Settings (optional keys) keep their own host and port fields; the table's pair is the target only.
    const params = this.#keys.optional ? { ...record.params } : { ...record.params, host: record.host, port: String(record.port) };
    return { host: record.host, port: record.port, params, ...(record.singleUse ? { singleUse: true } : {}) };
  }

  async consume(token: string, signal: AbortSignal): Promise<boolean> {
    // A custom query has no notion of use; only the tokens table has single-use tokens.
    if (!this.#tokens) return true;
    return this.#tokens.consume(token, signal);
  }

  async close(): Promise<void> {
    const listeners = this.#listeners;
    this.#listeners = [];
    await Promise.all([...listeners.map((l) => l.stop()), this.#driver.close()]);
  }
}
