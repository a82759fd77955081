// What the primary and its workers say to each other over the IPC channel
// node:cluster opens (JSON: no Infinity, no undefined). Every message
// carries `wsgate` so messages from other code in the process are ignored.
import type { ProcessesStatus } from '../server/gateway.js';
import type { SessionSummary } from '../observability/session-list.js';
import type { MetricsSnapshot } from '../observability/metrics.js';
import type { ReloadOutcome } from '../config/reload.js';

/** What the primary gathers from every worker. */
export type Collectable = 'sessions' | 'metrics' | 'reload' | 'close' | 'drain';

export type AdminOp = 'sessions' | 'close' | 'drain' | 'reload';

/** What 'close' asks every worker: the session to close, if it holds it. */
export interface CloseArgs {
  session: string;
  code: number;
  reason: string;
}

export type WorkerMessage =
  /** The gateway is started and takes connections. */
  | { wsgate: 'ready' }
  /** The socket of 'connection' `id` arrived: the primary may close its own copy. */
  | { wsgate: 'adopted'; id: number }
  /** A connection handed over with 'connection' has closed (the primary balances on open connections). */
  | { wsgate: 'closed' }
  /** This worker's live and total session counts, sent when they change (coalesced). */
  | { wsgate: 'sessions'; open: number; total: number }
  /** Asks for a session slot under maxSessions; answered by 'admitted'. */
  | { wsgate: 'admit'; id: number }
  | { wsgate: 'leave' }
  /** Asks for the whole gateway's counts; answered by 'status'. */
  | { wsgate: 'status'; id: number }
  /** Asks for every worker's sessions; answered by 'list'. */
  | { wsgate: 'list'; id: number }
  /** Asks for the whole gateway's metrics; answered by 'metrics'. */
  | { wsgate: 'metrics'; id: number }
  /** An admin request that reached this worker under `admin.path`, for the primary to carry out over every worker; answered by 'admin'. */
  | { wsgate: 'admin'; id: number; op: AdminOp; args?: CloseArgs }
  /** This worker's sessions or metrics snapshot (whichever 'collect' asked for); null if it could not make it. */
  | { wsgate: 'collected'; id: number; part: SessionSummary[] | MetricsSnapshot | WorkerReload | boolean | number | null };

/** A worker's answer to 'collect' 'reload': it read the config again and applied it, or refused it. */
export type WorkerReload = { worker: number; pid: number } & ReloadOutcome;

export type PrimaryMessage =
  /** Comes with an accepted socket as the handle; `listener` indexes config.listen. */
  | { wsgate: 'connection'; id: number; listener: number }
  | { wsgate: 'admitted'; id: number; ok: boolean }
  | { wsgate: 'status'; id: number; status: ProcessesStatus }
  | { wsgate: 'list'; id: number; sessions: SessionSummary[] }
  /** The primary's answer to an 'admin' request (what AdminOps resolve to). */
  | { wsgate: 'admin'; id: number; result: unknown }
  /** Prometheus text of every process merged; null if it could not be made. */
  | { wsgate: 'metrics'; id: number; text: string | null }
  /**
   * Send this worker's sessions or metrics ('collected'); 'reload': read the config again, apply it, answer how it
   * went; 'close': close `args.session` if this worker holds it (answers true/false); 'drain': take no new sessions
   * (answers how many are open).
   */
  | { wsgate: 'collect'; id: number; what: Collectable; args?: CloseArgs }
  /** Stop gracefully; graceMs null = let sessions run until they end (--timeout). */
  | { wsgate: 'stop'; graceMs: number | null };

export function isWsgateMessage<T extends { wsgate: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { wsgate?: unknown }).wsgate === 'string';
}

/** The worker's index (1..N), given by the primary in the environment; 0 outside --workers. */
export const WORKER_ID_ENV = 'WSGATE_WORKER_ID';
