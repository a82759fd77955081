// The built-in tokens table: token -> host, port, optional expiry, single
// use and parameters, so a deployment needs no SQL of its own. The same
// schema on SQLite, PostgreSQL and MariaDB/MySQL; times are epoch seconds
// (portable, compared as numbers, no time zones). The resolver reads it; the
// `wsgate tokens` command creates and edits it.
import { openDriver, type SqlDriver, type StoreSpec } from './sql-driver.js';

export const DEFAULT_TABLE = 'wsgate_tokens';
/** The PostgreSQL channel a revocation is announced on; the payload is the token. */
export const REVOKE_CHANNEL = 'wsgate_revoke';

/** A table name (optionally schema-qualified): it is spliced into SQL, so it must be a plain identifier. */
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

export interface NewToken {
  token: string;
  host: string;
  port: number;
  /** Epoch seconds after which the token is refused; none = never. */
  expiresAt?: number | null;
  singleUse?: boolean;
  params?: Record<string, string>;
}

export interface TokenRecord extends Required<NewToken> {
  expiresAt: number | null;
  usedAt: number | null;
  revokedAt: number | null;
  createdAt: number;
}

export type TokenState = 'active' | 'expired' | 'used' | 'revoked';

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Whether a token may open a session now (a used single-use token may not). */
export function tokenState(record: TokenRecord, now = nowSeconds()): TokenState {
  if (record.revokedAt !== null) return 'revoked';
  if (record.expiresAt !== null && record.expiresAt <= now) return 'expired';
  if (record.singleUse && record.usedAt !== null) return 'used';
  return 'active';
}

const COLUMNS = 'token, host, port, expires_at, single_use, used_at, revoked_at, params, created_at';

export class TokensTable {
  readonly driver: SqlDriver;
  readonly table: string;

  constructor(driver: SqlDriver, table = DEFAULT_TABLE) {
    if (!TABLE_NAME.test(table)) throw new Error(`not a plain table name: ${JSON.stringify(table)}`);
    this.driver = driver;
    this.table = table;
  }

  /** Creates the table if it is missing. */
  async create(): Promise<void> {
    const t = this.table;
    const ddl = {
      sqlite: `CREATE TABLE IF NOT EXISTS ${t} (token TEXT NOT NULL PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,
        expires_at INTEGER, single_use INTEGER NOT NULL DEFAULT 0, used_at INTEGER, revoked_at INTEGER, params TEXT, created_at INTEGER NOT NULL)`,
      postgres: `CREATE TABLE IF NOT EXISTS ${t} (token TEXT NOT NULL PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,
        expires_at BIGINT, single_use BOOLEAN NOT NULL DEFAULT FALSE, used_at BIGINT, revoked_at BIGINT, params TEXT, created_at BIGINT NOT NULL)`,
      // Binary collation: tokens are case-sensitive.
      mysql: `CREATE TABLE IF NOT EXISTS ${t} (token VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
        host VARCHAR(255) NOT NULL, port INT NOT NULL, expires_at BIGINT NULL, single_use BOOLEAN NOT NULL DEFAULT FALSE,
        used_at BIGINT NULL, revoked_at BIGINT NULL, params TEXT NULL, created_at BIGINT NOT NULL) DEFAULT CHARSET=utf8mb4`,
    }[this.driver.dialect];
    await this.driver.run(ddl, []);
  }

  /** Adds a token; false if the token exists already. */
  async add(t: NewToken): Promise<boolean> {
    if ((await this.get(t.token)) !== null) return false;
    const params = t.params && Object.keys(t.params).length > 0 ? JSON.stringify(t.params) : null;
    await this.driver.run(
      this.#sql(`INSERT INTO ${this.table} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?)`),
      [t.token, t.host, t.port, t.expiresAt ?? null, this.#flag(t.singleUse ?? false), params, nowSeconds()],
    );
    return true;
  }

  /** The token's record, whatever its state; null if there is none. */
  async get(token: string, signal?: AbortSignal): Promise<TokenRecord | null> {
    const rows = await this.driver.rows(this.#sql(`SELECT ${COLUMNS} FROM ${this.table} WHERE token = ?`), [token], signal);
    // An exact match only (MariaDB's PAD SPACE collations would let "abc " find "abc").
    const row = rows.find((r) => String(r.token) === token);
    return row ? record(row) : null;
  }

  async list(): Promise<TokenRecord[]> {
    return (await this.driver.rows(`SELECT ${COLUMNS} FROM ${this.table} ORDER BY created_at, token`, [])).map(record);
  }

  /** Deletes a token; false if there was none. */
  async remove(token: string): Promise<boolean> {
    return (await this.driver.run(this.#sql(`DELETE FROM ${this.table} WHERE token = ?`), [token])) > 0;
  }

  /**
   * Marks a token revoked (lookups refuse it from now on); on PostgreSQL the
   * same statement announces it on REVOKE_CHANNEL, so every gateway
   * listening closes its live sessions. False if there is no such token.
   */
  async revoke(token: string): Promise<boolean> {
    const now = nowSeconds();
    if (this.driver.dialect === 'postgres') {
      const sql = `WITH r AS (UPDATE ${this.table} SET revoked_at = COALESCE(revoked_at, $2) WHERE token = $1 RETURNING token)
        SELECT pg_notify('${REVOKE_CHANNEL}', token) FROM r`;
      return (await this.driver.rows(sql, [token, now])).length > 0;
    }
    return (await this.driver.run(this.#sql(`UPDATE ${this.table} SET revoked_at = COALESCE(revoked_at, ?) WHERE token = ?`), [now, token])) > 0;
  }

  /**
   * Uses up a single-use token, atomically in the store: of two gateways
   * (or sessions) racing for it, exactly one sees true.
   */
  async consume(token: string, signal?: AbortSignal): Promise<boolean> {
    const now = nowSeconds();
    const sql = `UPDATE ${this.table} SET used_at = ? WHERE token = ? AND used_at IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`;
    return (await this.driver.run(this.#sql(sql), [now, token, now], signal)) === 1;
  }

  /** `?` placeholders as the driver writes them. */
  #sql(sql: string): string {
    let n = 0;
    return this.driver.dialect === 'postgres' ? sql.replace(/\?/g, () => `$${++n}`) : sql;
  }

  #flag(value: boolean): boolean | number {
    return this.driver.dialect === 'postgres' ? value : value ? 1 : 0;
  }
}

function record(row: Record<string, unknown>): TokenRecord {
  const time = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  let params: Record<string, string> = {};
  if (typeof row.params === 'string' && row.params !== '') {
    try {
      const parsed = JSON.parse(row.params) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        params = Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
      }
    } catch {
      // A hand-edited, unparsable params column adds no parameters.
    }
  }
  return {
    token: String(row.token),
    host: String(row.host),
    port: Number(row.port),
    expiresAt: time(row.expires_at),
    singleUse: Boolean(Number(row.single_use)),
    usedAt: time(row.used_at),
    revokedAt: time(row.revoked_at),
    params,
    createdAt: Number(row.created_at),
  };
}

/** Revokes `token` in the tokens table of `store` (opening and closing a connection); false if there is no such token. */
export async function revokeToken(store: StoreSpec, token: string, table = DEFAULT_TABLE): Promise<boolean> {
  const driver = await openDriver(store);
  try {
    return await new TokensTable(driver, table).revoke(token);
  } finally {
    await driver.close();
  }
}
