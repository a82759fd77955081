// Authentication on the upgrade request, before any token lookup or
// backend dial: a route's checks (src/config/edge-policy.ts orders them:
// client certificate, then Basic, then JWT) must all pass. The first that
// fails decides the answer: 403 for a certificate, 401 with a
// WWW-Authenticate challenge for Basic and JWT, always as an HTTP status
// (a page must not learn more by opening a WebSocket). What passed (the
// certificate's CN, the Basic user, the JWT's sub) is the session's
// identity, in its log lines and in the session list.
import type { IncomingMessage } from 'node:http';
import type { AuthCheckConfig } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import type { Refusal } from './refusal.js';
import { BasicAuth } from './auth-basic.js';
import { CertAuth } from './auth-cert.js';
import { JwtAuth } from './auth-jwt.js';

/** Who a session's checks said the client is: `cn`, `user`, `sub`. */
export type Identity = Readonly<Record<string, string>>;

/** One check's verdict; `presented` = the client offered credentials (a failure then counts toward the lockout). */
export type AuthOutcome = { ok: true; identity: Identity } | { ok: false; presented: boolean; refusal: Refusal };

export interface AuthCheck {
  check(req: IncomingMessage): AuthOutcome | Promise<AuthOutcome>;
  /** Stops watching files. */
  close(): void;
}

export class RouteAuth {
  readonly #checks: AuthCheck[];

  private constructor(checks: AuthCheck[]) {
    this.#checks = checks;
  }

  /** Builds the checks, reading their files (a missing or bad file throws, naming it). */
  static async create(configs: AuthCheckConfig[], log: Logger): Promise<RouteAuth> {
    const checks: AuthCheck[] = [];
    const basic = configs.some((c) => c.type === 'basic');
    try {
      for (const c of configs) {
        if (c.type === 'cert') checks.push(new CertAuth(c.subjects));
        else if (c.type === 'basic') checks.push('users' in c ? await BasicAuth.fromFile(c.users, c.realm, c.cacheTtl, log) : BasicAuth.plain(c.user, c.password, c.realm));
        else checks.push(await JwtAuth.create(c, !basic, log));
      }
    } catch (err) {
      for (const check of checks) check.close();
      throw err;
    }
    return new RouteAuth(checks);
  }

  /** Every check in order; the first failure is the answer. */
  async check(req: IncomingMessage): Promise<AuthOutcome> {
    let identity: Record<string, string> = {};
    for (const check of this.#checks) {
      const outcome = await check.check(req);
      if (!outcome.ok) return outcome;
      identity = { ...identity, ...outcome.identity };
    }
    return { ok: true, identity };
  }

  close(): void {
    for (const check of this.#checks) check.close();
  }
}
