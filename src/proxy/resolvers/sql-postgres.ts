// PostgreSQL through pg: one pool per resolver, created on first use.
// Statements are named (prepared once per pooled connection); values are
// always bound. A lookup that is aborted or fails destroys its connection
// rather than returning it to the pool mid-query. Revocations arrive by
// LISTEN on a dedicated connection that reconnects when it drops.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import { pooledQuery, storeError, storeName, type ConnectionPool, type Row, type ServerSpec, type SqlDriver } from './sql-driver.js';

const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;
/** The server ends a statement after this long: an aborted lookup's query does not run on for ever. */
const STATEMENT_TIMEOUT_MS = 30_000;
const RELISTEN_MIN_MS = 500;
const RELISTEN_MAX_MS = 30_000;
/** A gateway waits this long at most for its first LISTEN; after that it starts anyway and the listener keeps trying. */
const FIRST_LISTEN_WAIT_MS = 3000;

export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly store: string;
  readonly #config: pg.ClientConfig;
  readonly #poolSize: number;
  #pool: pg.Pool | null = null;
  readonly #log: Logger | undefined;
  readonly #connections: ConnectionPool<pg.PoolClient> = {
    acquire: () => this.#getPool().connect(),
    release: (client) => client.release(),
    // release(true) destroys the connection instead of pooling it.
    discard: (client) => client.release(true),
  };

  constructor(spec: ServerSpec) {
    this.store = storeName(spec);
    const { url, host, port, user, password, database } = spec;
    this.#config = url ? { connectionString: url } : { host, port, user, password, database };
    this.#poolSize = spec.poolSize ?? 10;
    this.#log = spec.log;
  }

  async rows(sql: string, values: unknown[], signal?: AbortSignal): Promise<Row[]> {
    return (await this.#exec(sql, values, signal)).rows as Row[];
  }

  async run(sql: string, values: unknown[], signal?: AbortSignal): Promise<number> {
    return (await this.#exec(sql, values, signal)).rowCount ?? 0;
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.end();
  }

  /** Listens on `channel` until stop(); resolves once the first attempt has connected or failed. */
  listen(channel: string, onPayload: (payload: string) => void, log: Logger): { ready: Promise<void>; stop(): Promise<void> } {
    const listener = new Listener({ ...this.#config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, application_name: `wsgate-revocations pid ${process.pid}` }, channel, onPayload, log, this.store);
    const ready = new Promise<void>((resolve) => {
      setTimeout(resolve, FIRST_LISTEN_WAIT_MS).unref();
      void listener.connect().finally(resolve);
    });
    return { ready, stop: () => listener.stop() };
  }

  #exec(sql: string, values: unknown[], signal?: AbortSignal): Promise<pg.QueryResult> {
    return pooledQuery(this.#connections, this.store, signal, (client) => client.query({ name: statementName(sql), text: sql, values }));
  }

  #getPool(): pg.Pool {
    if (!this.#pool) {
      this.#pool = new pg.Pool({
        application_name: `wsgate pid ${process.pid}`,
        ...this.#config,
        max: this.#poolSize,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
        idleTimeoutMillis: IDLE_TIMEOUT_MS,
        statement_timeout: STATEMENT_TIMEOUT_MS,
      });
      // An idle connection's failure must have a listener, or it would end the process.
      this.#pool.on('error', (e) => this.#log?.warn({ store: this.store, err: e.message }, 'idle database connection failed'));
    }
    return this.#pool;
  }
}

/** A stable name per statement text, so each pooled connection prepares it once. */
function statementName(sql: string): string {
  return `wsgate_${createHash('sha256').update(sql).digest('hex').slice(0, 20)}`;
}

/** One LISTEN connection; when it drops, it reconnects with backoff (notifications sent meanwhile are lost). */
class Listener {
  #client: pg.Client | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #delay = RELISTEN_MIN_MS;

  constructor(
    readonly config: pg.ClientConfig,
    readonly channel: string,
    readonly onPayload: (payload: string) => void,
    readonly log: Logger,
    readonly store: string,
  ) {}

  async connect(): Promise<void> {
    this.#timer = null;
    if (this.#stopped) return;
    const client = new pg.Client(this.config);
    this.#client = client;
    client.on('error', (e) => this.#drop(client, e));
    client.on('end', () => this.#drop(client, null));
    client.on('notification', (m) => {
      if (m.channel === this.channel && m.payload) this.onPayload(m.payload);
    });
    try {
      await client.connect();
      // The channel is a fixed identifier of ours, not user input.
      await client.query(`LISTEN ${this.channel}`);
      this.#delay = RELISTEN_MIN_MS;
      this.log.info({ store: this.store, channel: this.channel }, 'listening for token revocations');
    } catch (e) {
      this.#drop(client, e);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }

  #drop(client: pg.Client, e: unknown): void {
    if (this.#client !== client) return;
    this.#client = null;
    // A failed client may never emit 'end': do not wait for it.
    void client.end().catch(() => {});
    if (this.#stopped) return;
    this.log.warn({ store: this.store, err: e ? storeError(this.store, e).message : 'connection ended', retryMs: this.#delay }, 'revocation listener lost its connection; reconnecting');
    this.#timer = setTimeout(() => void this.connect(), this.#delay);
    this.#timer.unref();
    this.#delay = Math.min(this.#delay * 2, RELISTEN_MAX_MS);
  }
}
