// What the SQL resolvers and the tokens table need from a database: run one
// statement with bound values, honour an AbortSignal, report failures as
// StoreError naming the store, and close. The drivers (better-sqlite3, pg,
// mysql2) are imported on demand, so a gateway that uses one never loads the
// others.
import net from 'node:net';
import { formatHostPort, networkErrorMessage } from '../../config/host-port.js';
import type { Logger } from '../../observability/logger.js';
import { abortError, raceAbort } from './aborting.js';
import { StoreError } from './types.js';
import type { Dialect } from './sql-placeholders.js';

export type { Dialect };
export type Row = Record<string, unknown>;

export interface SqlDriver {
  readonly dialect: Dialect;
  /** "sqlite /srv/wsgate-tokens.db", "postgres 127.0.0.1:5432": for errors and logs, never with a password. */
  readonly store: string;
  /** Runs a query (placeholders in the driver's syntax) and returns its rows. */
  rows(sql: string, values: unknown[], signal?: AbortSignal): Promise<Row[]>;
  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, values: unknown[], signal?: AbortSignal): Promise<number>;
  close(): Promise<void>;
  /**
   * PostgreSQL only: calls `onPayload` for each NOTIFY on `channel` until stop(), on a
   * connection of its own that connects in the background and reconnects with backoff.
   * `listening` resolves the first time it listens; nothing needs to wait for it.
   */
  listen?(channel: string, onPayload: (payload: string) => void, log: Logger): { listening: Promise<void>; stop(): Promise<void> };
}

export interface SqliteSpec {
  dialect: 'sqlite';
  /** Absolute path of the database file. */
  path: string;
  /** Open read-only (custom lookup queries never write). */
  readonly?: boolean;
  /** Create the file if it is missing (the tokens command); the resolver never does. */
  create?: boolean;
}

/** A server database: either a URL or its parts (the driver's PG and MySQL defaults fill the rest). */
export interface ServerSpec {
  dialect: 'postgres' | 'mysql';
  url?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** Most connections open at once (default 10). */
  poolSize?: number;
  /** Where the pool's connection state is logged, once per change (none: not logged, as for `wsgate tokens`). */
  log?: Logger;
}

export type StoreSpec = SqliteSpec | ServerSpec;

/** A driver for `spec`. Connects lazily: this never fails because the store is down. */
export async function openDriver(spec: StoreSpec): Promise<SqlDriver> {
  switch (spec.dialect) {
    case 'sqlite':
      return new (await import('./sql-sqlite.js')).SqliteDriver(spec);
    case 'postgres':
      return new (await import('./sql-postgres.js')).PostgresDriver(spec);
    case 'mysql':
      return new (await import('./sql-mysql.js')).MysqlDriver(spec);
  }
}

/** "postgres db.example:5432" from a spec, without user or password. */
export function storeName(spec: ServerSpec): string {
  return `${spec.dialect} ${storeAddress(spec)}`;
}

/** "db.example:5432" ("[::1]:5432"): where the driver will connect, for logs. */
export function storeAddress(spec: ServerSpec): string {
  const defaultPort = spec.dialect === 'postgres' ? 5432 : 3306;
  // pg falls back to PGHOST/PGPORT for unset fields; name what it will use.
  const env = spec.dialect === 'postgres' ? process.env : {};
  let host = spec.host ?? env.PGHOST ?? 'localhost';
  let port = spec.port ?? (env.PGPORT ? Number(env.PGPORT) : defaultPort);
  if (spec.url) {
    try {
      const url = new URL(spec.url);
      // A URL's IPv6 hostname comes in brackets.
      host = url.hostname.replace(/^\[(.*)\]$/, '$1') || url.searchParams.get('host') || 'localhost';
      port = url.port ? Number(url.port) : defaultPort;
    } catch {
      host = '(unparsable url)';
    }
  }
  return formatHostPort(host, port);
}

/** The StoreError for a driver failure: its message (or, for a failed dual-stack connect, its parts' messages). */
export function storeError(store: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  return new StoreError(store, driverMessage(e));
}

/** What a driver's failure says, for StoreErrors and logs. */
export function driverMessage(e: unknown): string {
  if (e instanceof StoreError) return e.message;
  let message = networkErrorMessage(e);
  if (e instanceof AggregateError && e.errors.length > 0) message = e.errors.map(networkErrorMessage).join('; ');
  const code = (e as { code?: unknown } | null)?.code;
  if (!message && typeof code === 'string') message = code;
  return message || 'unknown driver error';
}

/** How a pooled driver borrows a connection and gives it back. */
export interface ConnectionPool<C> {
  acquire(): Promise<C>;
  /** Back to the pool, for the next query. */
  release(conn: C): void;
  /** Never to be used again: it may still be in the middle of a query. */
  discard(conn: C): void;
}

/**
 * Runs `query` on a pooled connection, as the PostgreSQL and MariaDB drivers
 * do: gives up the moment `signal` aborts (a connection that arrives later
 * goes back to the pool), returns the connection after a good query and
 * discards it after an aborted or failed one, so a connection mid-query is
 * never reused. Failures are StoreErrors naming `store`.
 */
export async function pooledQuery<C, R>(pool: ConnectionPool<C>, store: string, signal: AbortSignal | undefined, query: (conn: C) => Promise<R>): Promise<R> {
  if (signal?.aborted) throw abortError(store, signal);
  let conn: C;
  try {
    conn = await raceAbort(pool.acquire(), signal, store, (late) => pool.release(late));
  } catch (e) {
    throw storeError(store, e);
  }
  try {
    const result = await raceAbort(query(conn), signal, store);
    pool.release(conn);
    return result;
  } catch (e) {
    pool.discard(conn);
    throw storeError(store, e);
  }
}

/** How long close() lets a pool end by itself before it cuts the connections left. */
const CLOSE_GRACE_MS = 500;

/**
 * The sockets a driver opens (made through pg's and mysql2's `stream`
 * option), so that closing cannot hang on a server that accepted and never
 * answered: ending a pool or a client waits for connections still in their
 * handshake until the connect timeout (10 s) gives up on them.
 */
export class DriverSockets {
  readonly #open = new Set<net.Socket>();

  /** Remembers `socket` until it closes; returns it. */
  track(socket: net.Socket): net.Socket {
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
    return socket;
  }

  /** Runs the driver's graceful `end` for up to CLOSE_GRACE_MS, then destroys every socket still open. Never rejects. */
  async close(end: () => Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const ended = end().catch(() => {}); // a store failing as we leave changes nothing
    await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }
}
