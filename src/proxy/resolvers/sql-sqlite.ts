// SQLite through better-sqlite3. The driver is synchronous and a lookup is
// a primary-key read of microseconds, so it runs on the event loop. The file
// is opened on first use (and again after a failure, e.g. before the tokens
// command has created it) and kept open; each statement is prepared once.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { abortError } from './aborting.js';
import { storeError, type Row, type SqlDriver, type SqliteSpec } from './sql-driver.js';
import { StoreError } from './types.js';

/** How long a write may wait for another process's lock (blocks the event loop, so short). */
const BUSY_TIMEOUT_MS = 1000;

export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  readonly store: string;
  readonly #spec: SqliteSpec;
  #db: Database.Database | null = null;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(spec: SqliteSpec) {
    this.#spec = spec;
    this.store = `sqlite ${spec.path}`;
  }

  async rows(sql: string, values: unknown[], signal?: AbortSignal): Promise<Row[]> {
    return this.#exec(signal, () => this.#statement(sql).all(...values) as Row[]);
  }

  async run(sql: string, values: unknown[], signal?: AbortSignal): Promise<number> {
    return this.#exec(signal, () => this.#statement(sql).run(...values).changes);
  }

  async close(): Promise<void> {
    this.#statements.clear();
    this.#db?.close();
    this.#db = null;
  }

  #exec<T>(signal: AbortSignal | undefined, work: () => T): T {
    if (signal?.aborted) throw abortError(this.store, signal);
    try {
      return work();
    } catch (e) {
      throw storeError(this.store, e);
    }
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#open().prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #open(): Database.Database {
    if (this.#db) return this.#db;
    const { path, readonly = false, create = false } = this.#spec;
    if (!create && !existsSync(path)) throw new StoreError(this.store, 'no such database file (`wsgate tokens add` creates it)');
    this.#db = new Database(path, { readonly, fileMustExist: !create, timeout: BUSY_TIMEOUT_MS });
    return this.#db;
  }
}
