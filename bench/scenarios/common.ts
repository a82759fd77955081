// Types shared by the scenarios and the orchestrator, plus session pairing.
import type net from 'node:net';
import type WebSocket from 'ws';
import type { Backend } from '../backend.js';
import { openWs } from '../client.js';
import type { GatewayName, RunningGateway } from '../gateways.js';
import type { Scope } from '../util.js';

export interface MetricDef {
  id: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  digits: number;
  /** Shown as "k/of" rather than a plain number. */
  outOf?: number;
}

export type Status = 'ok' | 'FAIL' | 'timeout' | 'error' | 'skipped' | 'n/a';

export interface Outcome {
  status: Status;
  /** Present for ok, and for FAIL where a measurement was still taken. */
  value?: number;
  note?: string;
  /** Short qualifier printed next to the value, e.g. "n=250". */
  tag?: string;
}

export interface Ctx {
  gw: RunningGateway;
  backend: Backend;
  quick: boolean;
  /** Everything a scenario opens goes here so a timeout still cleans up. */
  scope: Scope;
}

export interface Scenario {
  id: string;
  metrics: MetricDef[];
  timeoutMs: number;
  /** Extra wsgate options for this scenario (e.g. --workers for sizes past one process's fd limit). */
  wsgateArgs?: string[];
  /** A reason to not run this scenario for a gateway (e.g. resource caps); `wsgateArgs` are the effective ones. */
  skip?(gw: GatewayName, quick: boolean, wsgateArgs: string[]): string | undefined;
  run(ctx: Ctx): Promise<Record<string, Outcome>>;
}

export interface Session {
  ws: WebSocket;
  sock: net.Socket;
}

/**
 * Opens n sessions one after another so the i-th backend socket accepted
 * belongs to the i-th WebSocket (the gateway gives the backend no other clue).
 */
export async function openSessions(ctx: Ctx, n: number): Promise<Session[]> {
  const out: Session[] = [];
  for (let i = 0; i < n; i++) {
    const [ws, sock] = await Promise.all([openWs(ctx.gw.url), ctx.backend.next()]);
    ctx.scope.add(() => ws.terminate());
    out.push({ ws, sock });
  }
  return out;
}

export const ok = (value: number, note?: string): Outcome => ({ status: 'ok', value, note });
