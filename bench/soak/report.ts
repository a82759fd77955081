// The soak's printout: one block per run.
import type { SoakReport } from './soak.js';
import type { ExhaustionReport } from './exhaust.js';
import { FAULTS } from './plan.js';

const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

export function renderSoak(r: SoakReport): string {
  const out: string[] = [];
  out.push(`== ${r.label}: ${r.sessions} sessions, ${r.concurrency} at once, seed ${r.seed}, ${r.durationS.toFixed(1)} s, ${(r.bytes / 1024 / 1024).toFixed(0)} MiB relayed`);
  out.push(`  sessions intact:                        ${r.intact}`);
  out.push(`  sessions ended with a logged reason:    ${r.ended}  (legal close code or HTTP status, correct prefixes)`);
  out.push(`  broken sessions (must be 0):            ${r.broken.length}`);
  out.push(`  gateway RSS (${r.processes} process${r.processes > 1 ? 'es' : ''}):  start ${mib(r.rssKiB.start)}, peak ${mib(r.rssKiB.peak)}, final ${mib(r.rssKiB.final)}`);
  out.push(`  gateway fds:                            start ${r.fds.start}, peak ${r.fds.peak}, final ${r.fds.final}`);
  out.push(`  soak harness event-loop delay:          p99 ${r.harnessLoopDelayMs.p99.toFixed(0)} ms, max ${r.harnessLoopDelayMs.max.toFixed(0)} ms`);
  out.push(`  /healthz afterwards:                    ${typeof r.health === 'string' ? `no answer (${r.health})` : `${r.health.status} ${JSON.stringify(r.health.body)}`}`);
  out.push('  by fault:                sessions  intact  ended  broken');
  for (const f of FAULTS) {
    const c = r.byFault[f];
    out.push(`    ${f.padEnd(27)}${String(c.sessions).padStart(6)}${String(c.intact).padStart(8)}${String(c.ended).padStart(7)}${String(c.broken).padStart(8)}`);
  }
  out.push('  how faulted sessions ended:');
  for (const [how, n] of [...r.endings].sort((a, b) => b[1] - a[1])) out.push(`    ${String(n).padStart(5)}  ${how}`);
  if (r.broken.length) {
    out.push('  broken:');
    const byWhy = new Map<string, typeof r.broken>();
    for (const b of r.broken) {
      const key = `${b.fault}: ${b.why.replace(/\d+/g, 'N')}`;
      byWhy.set(key, [...(byWhy.get(key) ?? []), b]);
    }
    for (const [key, list] of byWhy) {
      const e = list[0]!;
      out.push(`    ${String(list.length).padStart(5)}  ${key}`);
      out.push(`           e.g. session ${e.id} (up ${e.up}, down ${e.down}): ${e.why}`);
    }
  }
  for (const p of r.problems) out.push(`  problem: ${p}`);
  for (const e of r.gatewayErrors.slice(0, 5)) out.push(`  gateway error line: ${JSON.stringify(e)}`);
  return out.join('\n');
}

export function renderExhaustion(r: ExhaustionReport): string {
  const out: string[] = [];
  out.push(`== descriptor exhaustion: gateway under prlimit --nofile=${r.nofile}, ${r.silentOpened} silent connections opened`);
  out.push(`  gateway fds: idle ${r.fdsIdle}, with the silent connections ${r.fdsFilled}, at the end of the hold ${r.fdsEndOfHold}, after they were closed ${r.fdsAfter}`);
  out.push(`  silent connections: ${r.silentShedAtOnce} closed by the gateway at once (no descriptor left), ${r.silentHeld.accepted} held;`);
  out.push(`    after ${r.holdS} s the gateway had sent a FIN on ${r.silentHeld.finned} of those and reset ${r.silentHeld.reset} (the clients never answer a FIN)`);
  out.push(`  established session: ${r.relay.bytes} bytes echoed byte-exact in ${r.holdS} s${r.relay.problem ? `; PROBLEM: ${r.relay.problem}` : ''}`);
  out.push(`  /healthz while full: ${r.healthWhileFull}`);
  out.push(`  /healthz after the silent connections closed: ${r.healthAfter}`);
  for (const p of r.timeline) out.push(`    ${p}`);
  return out.join('\n');
}
