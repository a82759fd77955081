// How a soak session ended, from what both ends saw and what the gateway
// logged:
//   intact  an unfaulted session: every byte both ways, close 1000
//   ended   a faulted session that ended as its fault allows: the close code
//           (or HTTP status) the fault calls for, a log line giving the
//           reason, and each direction a correct prefix of what was sent (or
//           all of it, where the fault leaves that direction whole)
//   broken  anything else: a lost, reordered or corrupted byte, an
//           unfaulted session that did not end intact, a faulted one with
//           no logged reason or the wrong code, a backend connection left open
import type { BackendRecord } from './backend.js';
import type { ClientResult } from './client.js';
import type { SessionLines } from './gateway.js';
import type { Fault, SessionPlan } from './plan.js';
import { HEADER_BYTES } from './streams.js';

export type Verdict = { kind: 'intact' } | { kind: 'ended'; how: string } | { kind: 'broken'; why: string };

/** What each fault must leave whole, and the close codes the client may see (the log must show the same). */
const EXPECT: Record<Exclude<Fault, 'backend-refused' | 'backend-hang'>, { down: boolean; up: boolean; codes: number[] }> = {
  none: { down: true, up: true, codes: [1000] },
  // Backpressure, not loss: the stalled client must still get everything, then 1000.
  'client-stall': { down: true, up: true, codes: [1000] },
  'backend-half-close': { down: true, up: false, codes: [1000] },
  'client-close-after-sending': { down: false, up: true, codes: [1000] },
  // 1011 "backend error: ECONNRESET"; or 1000 "backend closed the connection" when the RST
  // came in with the last data: libuv then reports EOF (a POLLHUP after a partial read)
  // and the reset never reaches Node. Either way the client has a correct prefix.
  'backend-reset': { down: false, up: false, codes: [1011, 1000] },
  // The client dropped the connection: no close frame either way.
  'client-reset': { down: false, up: false, codes: [1006] },
};

/** Close codes a session of this soak may legally end with (as the client sees them). */
export const LEGAL_CLOSE_CODES = new Set([1000, 1001, 1006, 1011]);

const REFUSAL_STATUS = { 'backend-refused': 502, 'backend-hang': 504 } as const;

export function classify(plan: SessionPlan, client: ClientResult, backend: BackendRecord | undefined, lines: SessionLines | undefined): Verdict {
  const broken = (why: string): Verdict => ({ kind: 'broken', why });
  if (!client.down.correct) {
    const how = client.opened ? `${client.down.bytes} bytes received, close ${client.closeCode}` : 'never opened';
    return broken(`backend>client byte ${client.down.firstBad} wrong (of ${plan.down}; ${how})`);
  }
  if (backend && !backend.up.correct) return broken(`client>backend byte ${backend.up.firstBad} wrong (of ${plan.up})`);
  if (client.timedOut) {
    const down = `got ${client.down.bytes} of ${plan.down} down (the backend wrote ${backend?.downSent ?? 0}${backend?.eof ? ', got FIN' : ''}${backend?.closed ? ', closed' : ''})`;
    return broken(`did not end within the session timeout: ${down}; sent ${client.upSent}/${plan.up} up, the backend got ${backend?.up.bytes ?? 0}`);
  }

  if (plan.fault === 'backend-refused' || plan.fault === 'backend-hang') {
    const status = REFUSAL_STATUS[plan.fault];
    if (client.opened) return broken(`handshake accepted, expected HTTP ${status}`);
    if (client.httpStatus !== status) return broken(`HTTP ${client.httpStatus ?? `none (${client.error} after ${client.endedAt - client.startedAt} ms)`}, expected ${status}`);
    const line = lines?.refused.find((l) => l.status === status && l.reason);
    if (!line) return broken(`no "handshake refused" line with status ${status}`);
    if (backend) return broken('a refused session reached the backend');
    return { kind: 'ended', how: `HTTP ${status}: ${line.reason}` };
  }

  if (!client.opened) return broken(`not opened: ${client.httpStatus ? `HTTP ${client.httpStatus}` : client.error} after ${client.endedAt - client.startedAt} ms`);
  const expect = EXPECT[plan.fault];
  const code = client.closeCode!;
  if (!LEGAL_CLOSE_CODES.has(code)) return broken(`close code ${code} is not a legal ending`);
  if (!expect.codes.includes(code)) {
    const logged = lines?.closed[0];
    const said = logged ? `logged ${logged.code} ${logged.closedBy} "${logged.reason}"` : 'nothing logged';
    return broken(`close ${code}, expected ${expect.codes.join(' or ')} (${said}; got ${client.down.bytes}/${plan.down} down, backend ${backend?.up.bytes ?? 0}/${plan.up} up)`);
  }

  // The header may not reach the backend when the client resets at once; then it got nothing (a prefix).
  if (!backend && plan.fault !== 'client-reset') return broken('the backend never got the session');
  if (backend && !backend.closed) return broken('the backend connection was left open');
  if (expect.down && !client.down.complete) return broken(`backend>client: ${client.down.bytes} of ${plan.down} bytes arrived`);
  if (expect.up && !(backend?.up.complete && backend.eof)) {
    const when = backend && client.closingAt
      ? `; the backend accepted the connection ${backend.acceptedAt - client.openedAt} ms after the client's open and had its first bytes ${backend.identifiedAt - client.openedAt} ms after it; the client closed ${backend.closedAt - client.closingAt} ms before the backend connection did, its last data came ${backend.closedAt - backend.lastDataAt} ms before that`
      : '';
    const end = backend?.eof ? '' : `, no FIN${backend?.error ? ` (${backend.error})` : ''}${when}`;
    return broken(`client>backend: ${backend?.up.bytes ?? 0} of ${plan.up} bytes arrived${end}`);
  }

  const closed = lines?.closed ?? [];
  if (closed.length !== 1) return broken(`${closed.length} "session closed" lines, expected 1`);
  const line = closed[0]!;
  if (line.code !== code) return broken(`logged close code ${line.code}, the client saw ${code}`);
  // A close the gateway started must say why; the peer's (client, network) is its own reason.
  if (!['server', 'client', 'network'].includes(line.closedBy ?? '') || (line.closedBy === 'server' && !line.reason)) {
    return broken(`"session closed" line gives no reason (closedBy ${line.closedBy}, reason "${line.reason}")`);
  }
  if (plan.fault === 'none') {
    if (line.bytesIn !== HEADER_BYTES + plan.up || line.bytesOut !== plan.down) {
      return broken(`logged bytesIn/bytesOut ${line.bytesIn}/${line.bytesOut}, relayed ${HEADER_BYTES + plan.up}/${plan.down}`);
    }
    return { kind: 'intact' };
  }
  return { kind: 'ended', how: `${code} ${line.closedBy}${line.reason ? `: ${line.reason}` : ''}` };
}
