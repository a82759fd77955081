// MariaDB/MySQL through mysql2: one pool per resolver, created on first use.
// execute() sends true server-side prepared statements (mysql2 caches them
// per connection), so the token is bound, never escaped into the text as
// query() would do. A lookup that is aborted or fails destroys its
// connection instead of returning it to the pool mid-query.
import net from 'node:net';
import * as mysql from 'mysql2/promise';
import { LinkState, LOOKUP_MESSAGES } from './link-state.js';
import { DriverSockets, driverMessage, pooledQuery, storeAddress, storeName, type ConnectionPool, type Row, type ServerSpec, type SqlDriver } from './sql-driver.js';

const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;
const KEEPALIVE_DELAY_MS = 60_000;

export class MysqlDriver implements SqlDriver {
  readonly dialect = 'mysql' as const;
  readonly store: string;
  readonly #options: mysql.PoolOptions;
  #pool: mysql.Pool | null = null;
  readonly #sockets = new DriverSockets();
  readonly #state: LinkState | null;
  readonly #connections: ConnectionPool<mysql.PoolConnection> = {
    // The connection's own outcome (not the lookup's, which may have been aborted) is the pool's state.
    acquire: () =>
      (this.#pool ??= mysql.createPool(this.#options)).getConnection().then(
        (conn) => {
          this.#state?.up();
          return conn;
        },
        (e: unknown) => {
          this.#state?.down(driverMessage(e));
          throw e;
        },
      ),
    release: (conn) => conn.release(),
    discard: destroy,
  };

  constructor(spec: ServerSpec) {
    this.store = storeName(spec);
    const { url, host, port, user, password, database } = spec;
    const limit = spec.poolSize ?? 10;
    this.#options = {
      ...(url ? { uri: url } : { host, port, user, password, database }),
      connectionLimit: limit,
      maxIdle: limit,
      idleTimeout: IDLE_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      charset: 'utf8mb4',
      // mysql2 uses the socket it is given as is; we keep it to be able to cut it.
      stream: ({ config }: { config: { socketPath?: string; port: number; host: string } }) => {
        const socket = config.socketPath ? net.connect(config.socketPath) : net.connect(config.port, config.host);
        if (!config.socketPath) socket.setNoDelay(true).setKeepAlive(true, KEEPALIVE_DELAY_MS);
        return this.#sockets.track(socket);
      },
    };
    this.#state = spec.log ? new LinkState(spec.log, { server: storeAddress(spec) }, LOOKUP_MESSAGES) : null;
  }

  async rows(sql: string, values: unknown[], signal?: AbortSignal): Promise<Row[]> {
    const result = await this.#exec(sql, values, signal);
    return Array.isArray(result) ? (result as Row[]) : [];
  }

  async run(sql: string, values: unknown[], signal?: AbortSignal): Promise<number> {
    const result = await this.#exec(sql, values, signal);
    return Array.isArray(result) ? 0 : (result as mysql.ResultSetHeader).affectedRows;
  }

  async close(): Promise<void> {
    this.#state?.stop();
    const pool = this.#pool;
    this.#pool = null;
    if (pool) await this.#sockets.close(() => pool.end());
  }

  async #exec(sql: string, values: unknown[], signal?: AbortSignal): Promise<unknown> {
    const [result] = await pooledQuery(this.#connections, this.store, signal, (conn) => conn.execute(sql, values as mysql.ExecuteValues));
    return result;
  }
}

/**
 * Takes a connection out of the pool and closes its socket at once:
 * mysql2's destroy() only half-closes it, which keeps the process alive
 * until the server finishes the abandoned query.
 */
function destroy(conn: mysql.PoolConnection): void {
  conn.destroy();
  (conn as unknown as { connection?: { stream?: { destroy?(): void } } }).connection?.stream?.destroy?.();
}
