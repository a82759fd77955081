// HTTP Basic authentication on the upgrade request: against a file of
// `user:HASH` lines (bcrypt `$2a$`/`$2b$`/`$2y$`, or argon2 `$argon2id$`),
// reloaded when it changes; or websockify's BasicHTTPAuth, one user and a
// plain password (compared in constant time).
//
// Cost: a hash is slow on purpose. CPU time per check on the 2-core
// development machine (README, *On the open internet*): bcrypt cost 10
// through bcryptjs ~60 ms, computed on the event loop in slices of up to
// 100 ms, so the relay of every other session waits meanwhile; argon2id with
// the argon2 package's defaults (64 MiB, t=3, p=4) ~170 ms over 4 threads of
// libuv's pool, off the event loop; a cached success ~5 µs.
// So a success is remembered for `cacheTtl` (default 60 s) under an HMAC of
// the credentials with a key made at startup (never the password itself),
// at most CACHE_ENTRIES of them; a reload of the file starts a new cache,
// so a removed user or changed password takes effect at once. Failures are
// not cached: the per-address failure limit (auth-failures.ts) stops
// guessing instead.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../observability/logger.js';
import { ReloadingFiles, type FileText } from '../../proxy/resolvers/reloading-files.js';
import type { AuthCheck, AuthOutcome } from './auth.js';

const CACHE_ENTRIES = 1000;

type HashKind = 'bcrypt' | 'argon2';

/** The users of one version of the file, and the successes checked against it. */
class Users {
  readonly hashes: Map<string, { hash: string; kind: HashKind }>;
  readonly cache = new Map<string, { user: string; until: number }>();
  constructor(hashes: Map<string, { hash: string; kind: HashKind }>) {
    this.hashes = hashes;
  }
}

export function parseUsers(files: FileText[]): Users {
  const hashes = new Map<string, { hash: string; kind: HashKind }>();
  for (const { file, text } of files) {
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `${file}:${i + 1}`;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`${where}: expected user:HASH`);
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1);
      const kind = hashKind(hash);
      if (!kind) throw new Error(`${where}: the password of "${user}" is not a bcrypt ($2b$...) or argon2id ($argon2id$...) hash`);
      if (hashes.has(user)) throw new Error(`${where}: "${user}" is listed twice`);
      hashes.set(user, { hash, kind });
    });
  }
  return new Users(hashes);
}

function hashKind(hash: string): HashKind | null {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return 'bcrypt';
  if (/^\$argon2(id|i|d)\$/.test(hash)) return 'argon2';
  return null;
}

// Loaded only when a hash of their kind is first checked: each costs memory in every process.
let bcrypt: Promise<typeof import('bcryptjs')> | null = null;
let argon2: Promise<typeof import('argon2')> | null = null;

async function verify(kind: HashKind, hash: string, password: string): Promise<boolean> {
  if (kind === 'bcrypt') return (await (bcrypt ??= import('bcryptjs'))).compare(password, hash);
  return (await (argon2 ??= import('argon2'))).verify(hash, password);
}

/** The user and password of an `Authorization: Basic` header; null if there is none, 'malformed' if it is not user:password. */
export function basicCredentials(req: IncomingMessage): { user: string; password: string } | null | 'malformed' {
  const header = req.headers.authorization;
  const m = header === undefined ? null : /^Basic[ \t]+([A-Za-z0-9+/]+=*)[ \t]*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export class BasicAuth implements AuthCheck {
  readonly #users: ReloadingFiles<Users> | null;
  /** websockify's form: one user with a plain password, kept as a digest. */
  readonly #plain: { user: string; digest: Buffer } | null;
  readonly #challenge: Record<string, string>;
  readonly #ttlMs: number;
  readonly #key = randomBytes(32);

  private constructor(users: ReloadingFiles<Users> | null, plain: { user: string; password: string } | null, realm: string, ttlMs: number) {
    this.#users = users;
    this.#plain = plain && { user: plain.user, digest: this.#digest(plain.user, plain.password) };
    this.#challenge = { 'WWW-Authenticate': `Basic realm="${realm}"` };
    this.#ttlMs = ttlMs;
  }

  /** Reads the users file (a bad line fails here, naming it). */
  static async fromFile(path: string, realm: string, ttlMs: number, log: Logger): Promise<BasicAuth> {
    const users = await ReloadingFiles.open({ path, parse: parseUsers, log, what: 'users file' });
    return new BasicAuth(users, null, realm, ttlMs);
  }

  static plain(user: string, password: string, realm: string): BasicAuth {
    return new BasicAuth(null, { user, password }, realm, 0);
  }

  async check(req: IncomingMessage): Promise<AuthOutcome> {
    const creds = basicCredentials(req);
    if (creds === null) return this.#refuse('no Basic credentials', false);
    if (creds === 'malformed') return this.#refuse('malformed Basic credentials', true);
    const digest = this.#digest(creds.user, creds.password);
    if (this.#plain) {
      return timingSafeEqual(digest, this.#plain.digest) ? { ok: true, identity: { user: creds.user } } : this.#refuse('wrong user or password', true, creds.user);
    }
    const users = this.#users!.value;
    const key = digest.toString('base64');
    const cached = users.cache.get(key);
    if (cached && cached.until > Date.now()) return { ok: true, identity: { user: cached.user } };
    if (cached) users.cache.delete(key);
    const entry = users.hashes.get(creds.user);
    // An unknown user costs a hash as well (any listed one, result ignored), so timing does not tell which users exist.
    const stand = entry ?? users.hashes.values().next().value;
    const right = stand ? await verify(stand.kind, stand.hash, creds.password) : false;
    if (!entry || !right) return this.#refuse(entry ? 'wrong password' : 'unknown user', true, creds.user);
    if (this.#ttlMs > 0) {
      if (users.cache.size >= CACHE_ENTRIES) users.cache.delete(users.cache.keys().next().value!);
      users.cache.set(key, { user: creds.user, until: Date.now() + this.#ttlMs });
    }
    return { ok: true, identity: { user: creds.user } };
  }

  close(): void {
    this.#users?.close();
  }

  /** user:password is unambiguous: a Basic user name has no colon. */
  #digest(user: string, password: string): Buffer {
    return createHmac('sha256', this.#key).update(`${user}:${password}`).digest();
  }

  #refuse(reason: string, presented: boolean, user?: string): AuthOutcome {
    // The user name is logged (it helps to find a misconfigured client); the password never is.
    return { ok: false, presented, refusal: { status: 401, reason, headers: this.#challenge, ...(user !== undefined ? { fields: { user: user.slice(0, 64) } } : {}) } };
  }
}
