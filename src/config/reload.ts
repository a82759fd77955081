// What a reload (SIGHUP, `wsgate reload`) may change. Routes (with
// `defaults`) and the grace period apply to new sessions; everything else
// is fixed for the process's life: its listeners, TLS, processes and
// endpoints are made once at start. A reload that changes any of those is
// refused whole, naming them, so that nothing is half applied.
import type { GatewayConfig } from './types.js';

/** What a reload answers (the admin API's JSON); under --workers, `workers` has each one's. */
export type ReloadOutcome = ({ ok: true; routes: string[] } | { ok: false; error: string }) & { workers?: Array<{ worker: number; pid: number } & ReloadOutcome> };

/** Fields a reload may change: routes (the defaults are folded into them) and gracePeriod. */
const RELOADABLE = new Set<keyof GatewayConfig>(['routes', 'gracePeriod']);

/** The top-level fields that differ between `running` and `next` and cannot change at run time. */
export function fixedFieldsChanged(running: GatewayConfig, next: GatewayConfig): string[] {
  const keys = new Set([...Object.keys(running), ...Object.keys(next)] as Array<keyof GatewayConfig>);
  const changed: string[] = [];
  for (const key of keys) {
    if (RELOADABLE.has(key)) continue;
    if (JSON.stringify(running[key]) !== JSON.stringify(next[key])) changed.push(key);
  }
  return changed;
}

/** Why `next` cannot replace `running` at run time, or null if it can. */
export function fixedFieldsError(running: GatewayConfig, next: GatewayConfig): string | null {
  const fixed = fixedFieldsChanged(running, next);
  return fixed.length > 0 ? `cannot change at run time: ${fixed.join(', ')} (restart wsgate for those); nothing was applied` : null;
}
