// `wsgate tokens add|list|remove|revoke`: manages the built-in tokens table
// (SQLite file by default, or a PostgreSQL / MariaDB store shared by several
// gateways) so that a deployment needs no SQL to start.
// Exit codes: 0 done, 1 the store failed or the token was missing/present, 2 bad usage.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fingerprint } from '../observability/logger.js';
import { formatHostPort, parseTarget } from '../config/host-port.js';
import { FINGERPRINT_KEY_ENV, fingerprintKeyFromEnv, readFingerprintKeyFile } from '../config/fingerprint-key.js';
import { ConfigValueError } from '../config/units.js';
import { DEFAULT_SQLITE_FILE } from '../proxy/resolvers/sql.js';
import { openDriver, type StoreSpec } from '../proxy/resolvers/sql-driver.js';
import { DEFAULT_TABLE, nowSeconds, TABLE_NAME, TokensTable, tokenState, type TokenRecord } from '../proxy/resolvers/tokens-table.js';
import { ORIGINAL_ALPHABET } from '../proxy/token-carrier.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Io = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

export const TOKENS_HELP = `Usage: wsgate tokens COMMAND [options]

Manages the tokens table that a route's \`resolver: { type: sqlite | postgres | mysql }\`
reads when it has no \`query\` of its own.

Commands:
  add [TOKEN] HOST:PORT   add a token (without TOKEN, a random one is made and printed)
      --expires SECONDS|DATE   refuse it after SECONDS from now, or after an ISO 8601 date
      --single-use             refuse it after its first session (on every gateway)
      --param NAME=VALUE       a session parameter (repeatable)
  list [--json]           show every token with its target and state
  remove TOKEN            delete a token
  revoke TOKEN            refuse a token from now on and, on PostgreSQL, close its
                          live sessions on every gateway listening

Store (default: the SQLite file ./${DEFAULT_SQLITE_FILE}):
  --db FILE               another SQLite file
  --postgres URL          a PostgreSQL store, e.g. postgres://wsgate@db:5432/wsgate
  --mysql URL             a MariaDB/MySQL store, e.g. mysql://wsgate@db:3306/wsgate
  --table NAME            the table (default ${DEFAULT_TABLE})

Messages name a token by its fingerprint, keyed as in the gateway's logs:
  --fingerprint-key-file FILE
                          the key file the gateway's fingerprintKeyFile names (or set
                          ${FINGERPRINT_KEY_ENV}); without a key, fingerprints are this run's only

  -h, --help              this help
`;

class UsageError extends Error {}

const OPTIONS = {
  db: { type: 'string' },
  postgres: { type: 'string' },
  mysql: { type: 'string' },
  table: { type: 'string' },
  expires: { type: 'string' },
  'single-use': { type: 'boolean' },
  param: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'fingerprint-key-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runTokensCommand(argv: string[], io: Io = stdio): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const { values: o, positionals } = parsed;
  const [command, ...args] = positionals;
  if (o.help || command === 'help') {
    io.out(TOKENS_HELP);
    return 0;
  }
  let work: (table: TokensTable) => Promise<number>;
  let store: StoreSpec;
  let key: string | null;
  try {
    store = storeOf(o, command === 'add');
    key = o['fingerprint-key-file'] !== undefined ? readFingerprintKeyFile(resolve(o['fingerprint-key-file'])) : fingerprintKeyFromEnv();
    work = plan(command, args, o, io, namer(key, io));
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigValueError) return usage(io, e.message);
    throw e;
  }
  const driver = await openDriver(store);
  try {
    return await work(new TokensTable(driver, o.table ?? DEFAULT_TABLE));
  } catch (e) {
    io.err(`wsgate tokens: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await driver.close();
  }
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

/** "token 1a2b3c4d5e6f (fingerprint)", under the gateway's key if given; without one, a note says the fingerprint is this run's only. */
function namer(key: string | null, io: Io): (token: string) => string {
  return (token) => {
    if (key) return `token ${fingerprint(token, key)} (fingerprint)`;
    io.err(`note: no fingerprint key (--fingerprint-key-file or ${FINGERPRINT_KEY_ENV}), so fingerprints are this run's only and will not match the gateway's logs\n`);
    return `token ${fingerprint(token)} (fingerprint)`;
  };
}

/** The store the options name; only `add` creates a missing SQLite file. */
function storeOf(o: Values, create: boolean): StoreSpec {
  const given = (['db', 'postgres', 'mysql'] as const).filter((k) => o[k] !== undefined);
  if (given.length > 1) throw new UsageError(`give one store, not ${given.map((k) => `--${k}`).join(' and ')}`);
  if (o.table !== undefined && !TABLE_NAME.test(o.table)) throw new UsageError(`--table: not a plain table name: ${o.table}`);
  if (o.postgres !== undefined) return { dialect: 'postgres', url: url(o.postgres, '--postgres'), poolSize: 1 };
  if (o.mysql !== undefined) return { dialect: 'mysql', url: url(o.mysql, '--mysql'), poolSize: 1 };
  return { dialect: 'sqlite', path: resolve(o.db ?? DEFAULT_SQLITE_FILE), create };
}

function url(text: string, option: string): string {
  try {
    new URL(text);
    return text;
  } catch {
    throw new UsageError(`${option}: not a URL: ${text}`);
  }
}

/** Checks the command line and returns what to do with the table. */
function plan(command: string | undefined, args: string[], o: Values, io: Io, named: (token: string) => string): (table: TokensTable) => Promise<number> {
  const addOnly = (['expires', 'single-use', 'param'] as const).find((k) => o[k] !== undefined);
  if (addOnly && command !== 'add') throw new UsageError(`--${addOnly} goes with add only`);
  if (o.json && command !== 'list') throw new UsageError('--json goes with list only');
  switch (command) {
    case 'add':
      return planAdd(args, o, io, named);
    case 'list':
      if (args.length > 0) throw new UsageError('list takes no arguments');
      return async (table) => {
        const records = await table.list();
        io.out(o.json ? JSON.stringify(records.map((r) => ({ ...r, state: tokenState(r) })), null, 2) + '\n' : formatList(records));
        return 0;
      };
    case 'remove':
    case 'revoke': {
      if (args.length !== 1 || args[0] === '') throw new UsageError(`${command} takes one TOKEN`);
      const token = args[0]!;
      return async (table) => {
        const done = command === 'remove' ? await table.remove(token) : await table.revoke(token);
        if (!done) {
          io.err(`wsgate tokens: no ${named(token)} in ${table.driver.store}\n`);
          return 1;
        }
        io.err(`${command === 'remove' ? 'removed' : 'revoked'} ${named(token)}\n`);
        return 0;
      };
    }
    case undefined:
      throw new UsageError('missing command (add, list, remove or revoke)');
    default:
      throw new UsageError(`unknown command "${command}" (add, list, remove or revoke)`);
  }
}

function planAdd(args: string[], o: Values, io: Io, named: (token: string) => string): (table: TokensTable) => Promise<number> {
  if (args.length < 1 || args.length > 2) throw new UsageError('add takes [TOKEN] HOST:PORT');
  const generated = args.length === 1;
  // 24 random bytes in base64url: within the original module's key alphabet.
  const token = generated ? randomBytes(24).toString('base64url') : args[0]!;
  if (token === '' || token.length > 512 || /[\s\0-\x1f\x7f]/.test(token)) throw new UsageError('TOKEN must be 1 to 512 characters without spaces or control characters');
  let target: { host: string; port: number };
  try {
    // The token file's rule, so a line of one is accepted by the other (IPv6 as [::1]:5900 or ::1:5900).
    target = parseTarget(args[args.length - 1]!);
  } catch (e) {
    throw new UsageError(`"${args[args.length - 1]}" is not HOST:PORT: ${(e as Error).message}`);
  }
  const params: Record<string, string> = {};
  for (const p of o.param ?? []) {
    const eq = p.indexOf('=');
    const name = eq > 0 ? p.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new UsageError(`--param ${p}: write NAME=VALUE`);
    if (name === 'host' || name === 'port') throw new UsageError(`--param ${name}: host and port come from HOST:PORT`);
    params[name] = p.slice(eq + 1);
  }
  const expiresAt = o.expires === undefined ? null : expiry(o.expires);
  const singleUse = o['single-use'] ?? false;
  return async (table) => {
    await table.create();
    if (!(await table.add({ token, host: target.host, port: target.port, expiresAt, singleUse, params }))) {
      io.err(`wsgate tokens: ${named(token)} exists already; remove it first\n`);
      return 1;
    }
    if (generated) io.out(`${token}\n`);
    if (!generated && !new RegExp(ORIGINAL_ALPHABET).test(token)) io.err('note: the token has characters outside A-Z a-z 0-9 , - + = / _, which routes refuse unless their token.pattern allows them\n');
    const notes = [expiresAt !== null ? `expires ${new Date(expiresAt * 1000).toISOString()}` : '', singleUse ? 'single use' : ''].filter(Boolean);
    io.err(`added ${named(token)} -> ${formatHostPort(target.host, target.port)}${notes.length ? ` (${notes.join(', ')})` : ''}\n`);
    return 0;
  };
}

/** `--expires 3600` (seconds from now) or `--expires 2030-01-01T00:00:00Z`, as epoch seconds. */
function expiry(text: string): number {
  if (/^\d+$/.test(text)) return nowSeconds() + Number(text);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--expires ${text}: give seconds from now or an ISO 8601 date`);
  return Math.floor(ms / 1000);
}

function formatList(records: TokenRecord[]): string {
  if (records.length === 0) return '(no tokens)\n';
  const now = nowSeconds();
  const rows = [['TOKEN', 'TARGET', 'STATE', 'EXPIRES', 'USE', 'PARAMS']];
  for (const r of records) {
    rows.push([
      r.token,
      formatHostPort(r.host, r.port),
      tokenState(r, now),
      r.expiresAt === null ? '-' : new Date(r.expiresAt * 1000).toISOString(),
      r.singleUse ? 'once' : 'many',
      Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' '),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}

function usage(io: Io, message: string): number {
  io.err(`wsgate tokens: ${message}\n(wsgate tokens --help shows the usage)\n`);
  return 2;
}
