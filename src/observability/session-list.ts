// What the sessions endpoint (--sessions-path) shows of each live session.
// It names clients and targets, so it is answered only to loopback clients:
// an operator on the gateway's host, not the world (see README).
import type { TrackedSession } from './session-registry.js';

export interface SessionSummary {
  id: string;
  pid: number;
  /** The --workers worker that holds it; absent in a single process. */
  worker?: number;
  route: string;
  path: string;
  remote: string;
  target: string;
  protocol: string;
  /** Who authenticated (`cn`, `user`, `sub`), on routes with auth. */
  identity?: Readonly<Record<string, string>>;
  startedAt: string;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Backpressure: true while the client is slower than the backend (the session above its high-water mark). */
  paused: boolean;
  /** Bytes queued for the client, not yet with the kernel. */
  bufferedAmount: number;
}

export function summarize(sessions: Iterable<TrackedSession>, worker?: number): SessionSummary[] {
  const out: SessionSummary[] = [];
  for (const s of sessions) {
    out.push({
      id: s.id,
      pid: process.pid,
      ...(worker ? { worker } : {}),
      route: s.meta.route,
      path: s.meta.path,
      remote: s.meta.remoteAddress,
      target: s.target,
      protocol: s.meta.protocol,
      ...(s.meta.identity ? { identity: s.meta.identity } : {}),
      startedAt: new Date(s.startedAt).toISOString(),
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      messagesIn: s.messagesIn,
      messagesOut: s.messagesOut,
      paused: !s.writable,
      bufferedAmount: s.bufferedAmount,
    });
  }
  return out;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}
