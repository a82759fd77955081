// The worker side of --workers: the gateway in this process asks the
// primary for session slots (when there is a limit) and for the whole
// gateway's counts, reports its own, and stops when the primary says so or
// when the primary is gone.
import cluster from 'node:cluster';
import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { SessionRegistry } from '../observability/session-registry.js';
import type { ProcessHooks, ProcessesStatus } from '../server/gateway.js';
import { UNLIMITED, type Admission } from '../server/admission.js';
import type { AdminOps } from '../server/admin.js';
import { isWsgateMessage, WORKER_ID_ENV, type AdminOp, type CloseArgs, type Collectable, type PrimaryMessage, type WorkerMessage } from './messages.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { summarize, type SessionSummary } from '../observability/session-list.js';
import type { ReloadOutcome } from '../config/reload.js';

export function workerId(): number {
  return cluster.isWorker ? Number(process.env[WORKER_ID_ENV] ?? cluster.worker?.id ?? 0) : 0;
}

/** What a worker's gateway does for the primary's admin API. */
export interface WorkerAdmin {
  reload(): Promise<ReloadOutcome>;
  /** Closes the session if this worker holds it. */
  close(session: string, code: number, reason: string): boolean;
  /** Takes no new sessions; returns how many are open. */
  drain(): number;
}

export class PrimaryLink implements ProcessHooks {
  readonly admission: Admission;
  #nextId = 1;
  /** Questions to the primary awaiting an answer, each with what it resolves to if the primary is gone. */
  readonly #asked = new Map<number, { resolve: (v: never) => void; ifGone: unknown }>();
  #registry: SessionRegistry | null = null;
  #metrics: GatewayMetrics | null = null;
  #stopHandler: ((graceMs: number | null, why: string) => void) | null = null;
  /** A stop that came before onStop() (the primary stopped while this worker was still starting). */
  #pendingStop: { graceMs: number | null; why: string } | null = null;
  #reportQueued = false;
  #adopt: ((listener: number, socket: Socket) => void) | null = null;
  #admin: WorkerAdmin | null = null;

  constructor(maxSessions: number, private readonly log: Logger) {
    this.admission =
      maxSessions > 0
        ? {
            admit: () => this.#ask<boolean>((id) => ({ wsgate: 'admit', id }), false),
            leave: () => this.#send({ wsgate: 'leave' }),
          }
        : UNLIMITED;
    process.on('message', (m: unknown, handle: unknown) => {
      if (!isWsgateMessage<PrimaryMessage>(m)) return;
      if (m.wsgate === 'connection') this.#onConnection(m.id, m.listener, handle as Socket | undefined);
      else this.#onMessage(m);
    });
    // The primary went away (killed, crashed): nobody will restart us or route to us.
    process.on('disconnect', () => {
      for (const { resolve, ifGone } of this.#asked.values()) resolve(ifGone as never);
      this.#asked.clear();
      this.#stop(0, 'the primary process is gone');
    });
  }

  status(): Promise<ProcessesStatus> {
    return this.#ask<ProcessesStatus>((id) => ({ wsgate: 'status', id }), { sessions: 0, sessionsTotal: 0, workers: [] });
  }

  sessions(): Promise<SessionSummary[]> {
    return this.#ask<SessionSummary[]>((id) => ({ wsgate: 'list', id }), []);
  }

  async metrics(): Promise<string> {
    const text = await this.#ask<string | null>((id) => ({ wsgate: 'metrics', id }), null);
    if (text === null) throw new Error('the primary could not merge the metrics');
    return text;
  }

  /** The admin API's operations, carried out by the primary over every worker. */
  adminOps(): AdminOps {
    const ask = <T>(op: AdminOp, ifGone: T, args?: CloseArgs) => this.#ask<T>((id) => ({ wsgate: 'admin', id, op, ...(args ? { args } : {}) }), ifGone);
    return {
      sessions: () => ask<SessionSummary[]>('sessions', []),
      close: (session, code, reason) => ask<boolean>('close', false, { session, code, reason }),
      drain: () => ask<{ sessions: number }>('drain', { sessions: 0 }),
      reload: () => ask<ReloadOutcome>('reload', { ok: false, error: 'the primary process is gone' }),
    };
  }

  /** Reports this process's session counts to the primary whenever they change; `metrics` is what it sends when asked. */
  watch(registry: SessionRegistry, metrics: GatewayMetrics | null): void {
    this.#registry = registry;
    this.#metrics = metrics;
    const queue = () => {
      if (this.#reportQueued) return;
      this.#reportQueued = true;
      setImmediate(() => {
        this.#reportQueued = false;
        this.#send({ wsgate: 'sessions', open: registry.size, total: registry.total });
      });
    };
    registry.on('added', queue);
    registry.on('ended', queue);
  }

  /** Serves connections the primary accepted with `adopt`, and tells the primary it is ready for them. */
  ready(adopt: (listener: number, socket: Socket) => void): void {
    this.#adopt = adopt;
    this.#send({ wsgate: 'ready' });
  }

  #onConnection(id: number, listener: number, socket: Socket | undefined): void {
    if (!socket) {
      this.#send({ wsgate: 'closed' }); // the handle did not survive the trip: nothing to count
      return;
    }
    this.#send({ wsgate: 'adopted', id });
    socket.once('close', () => this.#send({ wsgate: 'closed' }));
    if (this.#adopt) this.#adopt(listener, socket);
    else socket.destroy();
  }

  /** What this worker does when the primary forwards a reload (SIGHUP, `wsgate reload`), a close or a drain (the admin API). */
  serveAdmin(admin: WorkerAdmin): void {
    this.#admin = admin;
  }

  onStop(handler: (graceMs: number | null, why: string) => void): void {
    this.#stopHandler = handler;
    if (!process.connected) this.#pendingStop ??= { graceMs: 0, why: 'the primary process is gone' };
    const pending = this.#pendingStop;
    this.#pendingStop = null;
    if (pending) handler(pending.graceMs, pending.why);
  }

  #stop(graceMs: number | null, why: string): void {
    if (this.#stopHandler) this.#stopHandler(graceMs, why);
    // Keep the most urgent one: a later "no grace" wins over an earlier grace period.
    else if (!this.#pendingStop || graceMs === 0) this.#pendingStop = { graceMs, why };
  }

  #onMessage(m: Exclude<PrimaryMessage, { wsgate: 'connection' }>): void {
    if (m.wsgate === 'admitted') this.#settle(m.id, m.ok);
    else if (m.wsgate === 'status') this.#settle(m.id, m.status);
    else if (m.wsgate === 'list') this.#settle(m.id, m.sessions);
    else if (m.wsgate === 'metrics') this.#settle(m.id, m.text);
    else if (m.wsgate === 'admin') this.#settle(m.id, m.result);
    else if (m.wsgate === 'collect') this.#collect(m.id, m.what, m.args);
    else if (m.wsgate === 'stop') this.#stop(m.graceMs, 'the primary process asked');
  }

  #collect(id: number, what: Collectable, args?: CloseArgs): void {
    if (what === 'reload') return this.#reloadFor(id);
    if (what === 'close') return this.#send({ wsgate: 'collected', id, part: Boolean(args && this.#admin?.close(args.session, args.code, args.reason)) });
    if (what === 'drain') return this.#send({ wsgate: 'collected', id, part: this.#admin ? this.#admin.drain() : 0 });
    if (what === 'sessions') return this.#send({ wsgate: 'collected', id, part: summarize(this.#registry ?? [], workerId()) });
    if (!this.#metrics) return this.#send({ wsgate: 'collected', id, part: null });
    this.#metrics.snapshot().then(
      (part) => this.#send({ wsgate: 'collected', id, part }),
      (err) => {
        this.log.error({ err }, 'metrics snapshot failed');
        this.#send({ wsgate: 'collected', id, part: null });
      },
    );
  }

  #reloadFor(id: number): void {
    const me = { worker: workerId(), pid: process.pid };
    const reload = this.#admin?.reload ?? (async (): Promise<ReloadOutcome> => ({ ok: false, error: 'this worker is still starting' }));
    reload().then(
      (outcome) => this.#send({ wsgate: 'collected', id, part: { ...me, ...outcome } }),
      (err) => this.#send({ wsgate: 'collected', id, part: { ...me, ok: false, error: (err as Error).message } }),
    );
  }

  #ask<T>(message: (id: number) => WorkerMessage, ifGone: T): Promise<T> {
    if (!process.connected) return Promise.resolve(ifGone);
    const id = this.#nextId++;
    return new Promise<T>((resolve) => {
      this.#asked.set(id, { resolve: resolve as (v: never) => void, ifGone });
      this.#send(message(id));
    });
  }

  /** Resolves question `id` with the primary's answer (its type matches the question's). */
  #settle(id: number, value: unknown): void {
    const asked = this.#asked.get(id);
    this.#asked.delete(id);
    asked?.resolve(value as never);
  }

  #send(m: WorkerMessage): void {
    if (!process.connected) return;
    process.send!(m, undefined, {}, (err: Error | null) => {
      if (err) this.log.debug({ err: err.message }, 'message to the primary not sent');
    });
  }
}
