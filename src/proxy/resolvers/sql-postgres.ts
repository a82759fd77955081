// PostgreSQL through pg: one pool per resolver, created on first use.
// Statements are named (prepared once per pooled connection); values are
// always bound. A lookup that is aborted or fails destroys its connection
// rather than returning it to the pool mid-query. Revocations arrive by
// LISTEN on a dedicated connection that connects in the background (start-up
// never waits for it) and reconnects with backoff when it drops.
import { createHash } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import type { Logger } from '../../observability/logger.js';
import { LinkState, LOOKUP_MESSAGES, REVOCATION_MESSAGES } from './link-state.js';
import { DriverSockets, driverMessage, pooledQuery, storeAddress, storeName, type ConnectionPool, type Row, type ServerSpec, type SqlDriver } from './sql-driver.js';

const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;
/** The server ends a statement after this long: an aborted lookup's query does not run on for ever. */
const STATEMENT_TIMEOUT_MS = 30_000;
const RELISTEN_MIN_MS = 500;
const RELISTEN_MAX_MS = 30_000;

export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly store: string;
  readonly #address: string;
  readonly #config: pg.ClientConfig;
  readonly #poolSize: number;
  #pool: pg.Pool | null = null;
  readonly #sockets = new DriverSockets();
  readonly #state: LinkState | null;
  readonly #connections: ConnectionPool<pg.PoolClient> = {
    // The connection's own outcome (not the lookup's, which may have been aborted) is the pool's state.
    acquire: () =>
      this.#getPool()
        .connect()
        .then(
          (client) => {
            this.#state?.up();
            return client;
          },
          (e: unknown) => {
            this.#state?.down(driverMessage(e));
            throw e;
          },
        ),
    release: (client) => client.release(),
    // release(true) destroys the connection instead of pooling it.
    discard: (client) => client.release(true),
  };

  constructor(spec: ServerSpec) {
    this.store = storeName(spec);
    this.#address = storeAddress(spec);
    const { url, host, port, user, password, database } = spec;
    // pg connects the socket it is given (TCP or Unix, and TLS over it); we keep it to be able to cut it.
    const stream = () => this.#sockets.track(new net.Socket());
    this.#config = url ? { connectionString: url, stream } : { host, port, user, password, database, stream };
    this.#poolSize = spec.poolSize ?? 10;
    this.#state = spec.log ? new LinkState(spec.log, { server: this.#address }, LOOKUP_MESSAGES) : null;
  }

  async rows(sql: string, values: unknown[], signal?: AbortSignal): Promise<Row[]> {
    return (await this.#exec(sql, values, signal)).rows as Row[];
  }

  async run(sql: string, values: unknown[], signal?: AbortSignal): Promise<number> {
    return (await this.#exec(sql, values, signal)).rowCount ?? 0;
  }

  async close(): Promise<void> {
    this.#state?.stop();
    const pool = this.#pool;
    this.#pool = null;
    if (pool) await this.#sockets.close(() => pool.end());
  }

  /** Listens on `channel` until stop(), connecting in the background; `listening` resolves the first time it listens. */
  listen(channel: string, onPayload: (payload: string) => void, log: Logger): { listening: Promise<void>; stop(): Promise<void> } {
    const sockets = new DriverSockets();
    const config: pg.ClientConfig = {
      ...this.#config,
      stream: () => sockets.track(new net.Socket()),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // A server that lets us in but never answers LISTEN must not hold the listener either.
      query_timeout: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      application_name: `wsgate-revocations pid ${process.pid}`,
    };
    const listener = new Listener(config, sockets, channel, onPayload, new LinkState(log, { server: this.#address, channel }, REVOCATION_MESSAGES));
    void listener.connect();
    return { listening: listener.listening, stop: () => listener.stop() };
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
      // The server went away (or dropped us): one line for the pool, not one per connection.
      this.#pool.on('error', (e) => this.#state?.down(driverMessage(e)));
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
  #attempt = 0;
  #settle: () => void = () => {};
  /** Resolves the first time LISTEN succeeds. */
  readonly listening = new Promise<void>((resolve) => (this.#settle = resolve));

  constructor(
    readonly config: pg.ClientConfig,
    readonly sockets: DriverSockets,
    readonly channel: string,
    readonly onPayload: (payload: string) => void,
    readonly state: LinkState,
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
      if (this.#client !== client) return; // dropped meanwhile; a retry is scheduled
      this.#delay = RELISTEN_MIN_MS;
      this.#attempt = 0;
      this.state.up();
      this.#settle();
    } catch (e) {
      this.#drop(client, e);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.state.stop();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    if (client) await this.sockets.close(() => client.end());
  }

  #drop(client: pg.Client, e: unknown): void {
    if (this.#client !== client) return;
    this.#client = null;
    // A failed client may never emit 'end': do not wait for it.
    void client.end().catch(() => {});
    if (this.#stopped) return;
    this.state.down(e ? driverMessage(e) : 'connection ended');
    this.state.retrying(this.#delay, ++this.#attempt);
    this.#timer = setTimeout(() => void this.connect(), this.#delay);
    this.#timer.unref();
    this.#delay = Math.min(this.#delay * 2, RELISTEN_MAX_MS);
  }
}
