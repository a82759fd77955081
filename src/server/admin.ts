// The admin API (off by default): the live sessions, closing one, drain,
// reload. It answers on its own listener (`admin.listen`, loopback unless a
// host is given) or under a prefix of the main listeners (`admin.path`).
// Loopback clients need no token unless `trustLoopback: false`; everyone
// else shows `Authorization: Bearer <the tokenFile's content>`. What it does
// is given as AdminOps: the Gateway's in one process, the --workers
// primary's (gathered from every worker) otherwise.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/types.js';
import type { ReloadOutcome } from '../config/reload.js';
import type { Logger } from '../observability/logger.js';
import { isLoopback, type SessionSummary } from '../observability/session-list.js';
import { isSendableCloseCode } from '../session/close-codes.js';
import { answer } from './http-answers.js';
import { listenOn } from './listener.js';

export interface AdminOps {
  sessions(): Promise<SessionSummary[]>;
  /** Closes session `id` (after what it has queued); false if no process has it. */
  close(id: string, code: number, reason: string): Promise<boolean>;
  /** Stops taking new sessions (503) and lets the open ones finish; resolves with how many are open. */
  drain(): Promise<{ sessions: number }>;
  reload(): Promise<ReloadOutcome>;
}

/** Request bodies are a close code and a reason: anything larger is refused. */
const MAX_BODY = 4096;

export class AdminApi {
  readonly #config: AdminConfig;
  readonly #ops: AdminOps;
  readonly #log: Logger;
  #server: http.Server | null = null;

  constructor(config: AdminConfig, ops: AdminOps, log: Logger) {
    this.#config = config;
    this.#ops = ops;
    this.#log = log.child({ component: 'admin' });
  }

  /** With `admin.listen`: starts its own listener. Resolves with its address. */
  async listen(): Promise<AddressInfo | null> {
    if (!this.#config.listen) return null;
    const server = http.createServer((req, res) => this.#serve(req, res, new URL(`http://admin.invalid${req.url ?? '/'}`).pathname));
    await listenOn(server, this.#config.listen);
    this.#server = server;
    this.#log.info({ address: server.address(), token: this.#config.tokenFile ? 'required off loopback' : 'none (loopback only)' }, 'admin API listening');
    return server.address() as AddressInfo;
  }

  close(): void {
    this.#server?.close();
    this.#server?.closeAllConnections();
  }

  /** With `admin.path` on the main listeners: answers and returns true if `pathname` is under it. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): boolean {
    const prefix = this.#config.path;
    if (!prefix || (pathname !== prefix && !pathname.startsWith(`${prefix}/`))) return false;
    this.#serve(req, res, pathname.slice(prefix.length) || '/');
    return true;
  }

  #serve(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    const denied = this.#denied(req);
    if (denied) {
      this.#log.warn({ remote: req.socket.remoteAddress, status: denied }, 'admin request refused');
      return answer(res, denied, denied === 401 ? 'Unauthorized\n' : 'Forbidden\n', denied === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
    }
    this.#route(req, path).then(
      ({ status, body }) => answer(res, status, body),
      (err) => {
        this.#log.error({ err }, 'admin request failed');
        if (!res.headersSent) answer(res, 500, { error: (err as Error).message });
      },
    );
  }

  /** 401/403 if this client may not use the API, else 0. */
  #denied(req: http.IncomingMessage): number {
    if (this.#config.trustLoopback && isLoopback(req.socket.remoteAddress)) return 0;
    if (!this.#config.tokenFile) return 403;
    const shown = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!shown) return 401;
    let expected: string;
    try {
      expected = readFileSync(this.#config.tokenFile, 'utf8').trim();
    } catch (e) {
      this.#log.error({ err: (e as Error).message }, 'admin token file unreadable: refusing every token');
      return 401;
    }
    // Compared as hashes: equal lengths for timingSafeEqual, and no early exit on the first wrong byte.
    const digest = (t: string) => createHash('sha256').update(t).digest();
    return expected && timingSafeEqual(digest(shown), digest(expected)) ? 0 : 401;
  }

  async #route(req: http.IncomingMessage, path: string): Promise<{ status: number; body: unknown }> {
    const method = req.method ?? 'GET';
    if (path === '/sessions' && (method === 'GET' || method === 'HEAD')) return { status: 200, body: { sessions: await this.#ops.sessions() } };
    const close = /^\/sessions\/([A-Za-z0-9_-]+)\/close$/.exec(path);
    if (close && method === 'POST') {
      const body = await readJson(req);
      if (!body) return { status: 400, body: { error: 'the body must be a JSON object: {"code": 4000, "reason": "..."}' } };
      const code = body.code === undefined ? 1000 : body.code;
      const reason = body.reason === undefined ? '' : body.reason;
      if (typeof code !== 'number' || !isSendableCloseCode(code)) return { status: 400, body: { error: 'code must be a close code that may be sent (1000-1003, 1007-1014, 3000-4999)' } };
      if (typeof reason !== 'string') return { status: 400, body: { error: 'reason must be a string' } };
      const found = await this.#ops.close(close[1]!, code, reason);
      this.#log.info({ session: close[1], code, found }, 'admin: close a session');
      return found ? { status: 200, body: { closed: close[1], code, reason } } : { status: 404, body: { error: `no session ${close[1]}` } };
    }
    if (path === '/drain' && method === 'POST') {
      const { sessions } = await this.#ops.drain();
      this.#log.info({ sessions }, 'admin: drain');
      return { status: 200, body: { draining: true, sessions } };
    }
    if (path === '/reload' && method === 'POST') {
      const outcome = await this.#ops.reload();
      return { status: outcome.ok ? 200 : 422, body: outcome };
    }
    if (['/sessions', '/drain', '/reload'].includes(path) || close) return { status: 405, body: { error: `${method} is not allowed here` } };
    return { status: 404, body: { error: 'no such admin endpoint (GET /sessions, POST /sessions/ID/close, POST /drain, POST /reload)' } };
  }
}

/** The request's JSON object body ({} when empty), or null if it is not a JSON object. */
function readJson(req: http.IncomingMessage): Promise<Record<string, unknown> | null> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.destroy();
        return reject(new Error('request body too large'));
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        const value: unknown = JSON.parse(text);
        resolve(typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null);
      } catch {
        resolve(null);
      }
    });
    req.on('error', reject);
  });
}
