// Everything a route asks of a client before the gateway takes a session
// slot, looks a token up or dials a backend, in this order (cheapest and
// least revealing first):
//   1. Origin (403);
//   2. an address locked out after failed authentications (429);
//   3. new sessions per second per address, gateway-wide then the route's (429);
//   4. authentication: client certificate, Basic, JWT (403 / 401);
//   5. open sessions: the route's maxSessions (503), per address on the
//      route, then over every route (429).
// A pass holds places in the counters until leave(); a refusal holds none.
import type { IncomingMessage } from 'node:http';
import type { AuthFailureLimit, GatewayConfig, RefuseMode, RouteConfig } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import { LocalAdmission } from '../admission.js';
import { RouteAuth, type Identity } from './auth.js';
import { AuthFailures } from './auth-failures.js';
import { CountsByKey, RateLimiter } from './limits.js';
import { checkOrigin } from './origin.js';
import type { Refusal } from './refusal.js';

/** The limits shared by every route of a gateway. */
export class GatewayLimits {
  readonly perAddress: CountsByKey | null;
  readonly rate: RateLimiter | null;
  readonly failures: AuthFailures;

  constructor(config: Pick<GatewayConfig, 'maxSessionsPerAddress' | 'rateLimit'> & { authFailures: AuthFailureLimit }) {
    this.perAddress = config.maxSessionsPerAddress > 0 ? new CountsByKey(config.maxSessionsPerAddress) : null;
    this.rate = config.rateLimit ? new RateLimiter(config.rateLimit.perAddress, config.rateLimit.burst) : null;
    this.failures = new AuthFailures(config.authFailures);
  }
}

export type PolicyVerdict = { ok: true; identity: Identity; leave: () => void } | { ok: false; refusal: Refusal };

const NO_IDENTITY: Identity = Object.freeze({});
const HOLD_NOTHING = (): void => {};

export class RoutePolicy {
  readonly refuse: RefuseMode;
  readonly #route: RouteConfig;
  readonly #shared: GatewayLimits;
  readonly #auth: RouteAuth | null;
  readonly #sessions: LocalAdmission | null;
  readonly #perAddress: CountsByKey | null;
  readonly #rate: RateLimiter | null;

  private constructor(route: RouteConfig, shared: GatewayLimits, auth: RouteAuth | null) {
    const p = route.policy;
    this.refuse = p.refuse;
    this.#route = route;
    this.#shared = shared;
    this.#auth = auth;
    this.#sessions = p.maxSessions > 0 ? new LocalAdmission(p.maxSessions) : null;
    this.#perAddress = p.maxSessionsPerAddress > 0 ? new CountsByKey(p.maxSessionsPerAddress) : null;
    this.#rate = p.rateLimit ? new RateLimiter(p.rateLimit.perAddress, p.rateLimit.burst) : null;
  }

  /** Reads the route's auth files; a missing or bad one throws (the caller names the route). */
  static async create(route: RouteConfig, shared: GatewayLimits, log: Logger): Promise<RoutePolicy> {
    const auth = route.policy.auth.length > 0 ? await RouteAuth.create(route.policy.auth, log) : null;
    return new RoutePolicy(route, shared, auth);
  }

  async admit(req: IncomingMessage, address: string, log: Logger): Promise<PolicyVerdict> {
    const p = this.#route.policy;
    const origin = checkOrigin(p.origin, p.originRequired, req);
    if (origin) return { ok: false, refusal: origin };

    const failures = this.#shared.failures;
    const locked = this.#auth ? failures.lockedFor(address) : 0;
    if (locked > 0) return refused(429, 'address locked out after failed authentications', { 'Retry-After': seconds(locked) }, { quiet: true });
    for (const rate of [this.#shared.rate, this.#rate]) {
      const wait = rate?.take(address) ?? 0;
      if (wait > 0) return refused(429, 'new-session rate limit for this address', { 'Retry-After': seconds(wait) }, { close: 'busy' });
    }

    let identity = NO_IDENTITY;
    if (this.#auth) {
      const outcome = await this.#auth.check(req);
      if (!outcome.ok) {
        if (outcome.presented && failures.failed(address)) {
          log.warn({ lockoutSeconds: failures.lockoutMs / 1000 }, 'too many failed authentications: refusing this address for a while');
        }
        return { ok: false, refusal: outcome.refusal };
      }
      identity = outcome.identity;
    }

    // Places are taken in order and given back together (at once if a later limit refuses).
    const taken: Array<() => void> = [];
    const leave = () => {
      for (const give of taken.splice(0)) give();
    };
    const sessions = this.#sessions;
    if (sessions) {
      if (!sessions.admit()) return refused(503, `route limit of ${p.maxSessions} sessions reached`, { 'Retry-After': '5' }, { close: 'busy' });
      taken.push(() => sessions.leave());
    }
    for (const [counts, where] of [[this.#perAddress, ' on this route'], [this.#shared.perAddress, '']] as const) {
      if (!counts) continue;
      if (!counts.take(address)) {
        leave();
        return refused(429, `limit of ${counts.max} sessions per address${where} reached`, { 'Retry-After': '5' }, { close: 'busy' });
      }
      taken.push(() => counts.leave(address));
    }
    // Without limits nothing is held: a shared no-op instead of a closure kept by every session.
    return { ok: true, identity, leave: taken.length > 0 ? leave : HOLD_NOTHING };
  }

  close(): void {
    this.#auth?.close();
  }
}

function refused(status: number, reason: string, headers: Record<string, string>, extra: Pick<Refusal, 'close' | 'quiet'>): PolicyVerdict {
  return { ok: false, refusal: { status, reason, headers, ...extra } };
}

const seconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
