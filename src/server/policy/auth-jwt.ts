// A signed JWT on the upgrade request, from `Authorization: Bearer` or a
// named cookie (a browser's WebSocket cannot set headers, but sends the
// cookies of the gateway's host). Verified with jose: the signature, `exp`
// (required), `nbf`, `aud` (required: a token made for another service must
// not open sessions here) and `iss` if configured. Keys are loaded as the
// JWT token resolver loads them (jwt-keys.ts, reloaded when the file
// changes); a JWKS may also be an http(s) URL, fetched and cached by jose.
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyOptions } from 'jose';
import type { AuthCheckConfig } from '../../config/types.js';
import { fingerprint, type Logger } from '../../observability/logger.js';
import { HMAC_ALGORITHMS, parseJwks, parseKeyFile, parsePublicKey, type VerifyKey } from '../../proxy/resolvers/jwt-keys.js';
import { ReloadingFiles } from '../../proxy/resolvers/reloading-files.js';
import { cookie } from '../../proxy/token-carrier.js';
import type { AuthCheck, AuthOutcome } from './auth.js';

type JwtCheckConfig = Extract<AuthCheckConfig, { type: 'jwt' }>;

/** Longer than any sane JWT; a bigger header is refused before any parsing. */
const MAX_TOKEN_LENGTH = 8192;

export class JwtAuth implements AuthCheck {
  readonly #key: () => VerifyKey;
  readonly #files: ReloadingFiles<VerifyKey> | null;
  readonly #options: JWTVerifyOptions;
  readonly #cookie: string | undefined;
  /** With a Basic check on the same route, Authorization is Basic's: read only the cookie. */
  readonly #bearer: boolean;

  private constructor(key: () => VerifyKey, files: ReloadingFiles<VerifyKey> | null, cfg: JwtCheckConfig, bearer: boolean) {
    this.#key = key;
    this.#files = files;
    this.#cookie = cfg.cookie;
    this.#bearer = bearer;
    this.#options = { audience: cfg.audience, issuer: cfg.issuer, clockTolerance: cfg.clockTolerance, requiredClaims: ['exp'], algorithms: cfg.algorithms };
  }

  static async create(cfg: JwtCheckConfig, bearer: boolean, log: Logger): Promise<JwtAuth> {
    if (cfg.secret !== undefined) {
      const key = { key: new TextEncoder().encode(cfg.secret), algorithms: HMAC_ALGORITHMS };
      return new JwtAuth(() => key, null, cfg, bearer);
    }
    if (cfg.jwks !== undefined && /^https?:\/\//.test(cfg.jwks)) {
      // jose fetches the set when a token names a key it has not seen (at most every 30 s) and caches it.
      const key = { key: createRemoteJWKSet(new URL(cfg.jwks)), algorithms: cfg.algorithms ?? [] };
      return new JwtAuth(() => key, null, cfg, bearer);
    }
    const [file, parse] =
      cfg.publicKey !== undefined ? [cfg.publicKey, parsePublicKey] : cfg.jwks !== undefined ? [cfg.jwks, parseJwks] : [cfg.keyFile!, parseKeyFile];
    const files = await ReloadingFiles.open({ path: path.resolve(file), parse, log, what: 'JWT key' });
    return new JwtAuth(() => files.value, files, cfg, bearer);
  }

  async check(req: IncomingMessage): Promise<AuthOutcome> {
    const token = this.#token(req);
    if (token === null) return refuse('no JWT (Authorization: Bearer' + (this.#cookie ? ` or cookie ${this.#cookie})` : ')'), false);
    if (token.length > MAX_TOKEN_LENGTH) return refuse(`JWT longer than ${MAX_TOKEN_LENGTH} characters`, true);
    const { key, algorithms } = this.#key();
    try {
      const options = { ...this.#options, algorithms: this.#options.algorithms ?? (algorithms.length ? algorithms : undefined) };
      const { payload } = typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
      return { ok: true, identity: typeof payload.sub === 'string' ? { sub: payload.sub } : {} };
    } catch (err) {
      // jose's codes say what failed (ERR_JWT_EXPIRED, ERR_JWT_CLAIM_VALIDATION_FAILED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED).
      const e = err as { code?: string; claim?: string; message: string };
      return refuse(`JWT refused: ${e.code ?? e.message}${e.claim ? ` (${e.claim})` : ''}`, true, token);
    }
  }

  close(): void {
    this.#files?.close();
  }

  #token(req: IncomingMessage): string | null {
    if (this.#bearer) {
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
      if (m) return m[1]!;
    }
    return this.#cookie ? cookie(req.headers.cookie, this.#cookie) : null;
  }
}

function refuse(reason: string, presented: boolean, token?: string): AuthOutcome {
  // RFC 6750 §3: a missing token gets the bare challenge, a bad one error="invalid_token".
  const challenge = presented ? 'Bearer realm="wsgate", error="invalid_token"' : 'Bearer realm="wsgate"';
  return { ok: false, presented, refusal: { status: 401, reason, headers: { 'WWW-Authenticate': challenge }, ...(token ? { fields: { token: fingerprint(token) } } : {}) } };
}
