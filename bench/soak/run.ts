// `npm run soak`: the fault soak against the real CLI, single process and
// --workers 2, then the descriptor-exhaustion run. Bounded in time (a few
// minutes on two cores); loopback only. Exits 1 if any session broke.
// Usage: node dist/bench/soak/run.js [--sessions=5000] [--concurrency=1000] [--seed=N]
//        [--max-bytes=2097152] [--close-timeout=5] [--connect-timeout=3] [--fault-share=0.4] [--faults=client-reset,...]
//        [--only=single,workers,exhaust] [--hold=100]
// (--faults and --fault-share replay one kind of fault; --seed replays a run)
import { renderExhaustion, renderSoak } from './report.js';
import { runExhaustion } from './exhaust.js';
import { runSoak, type SoakOptions } from './soak.js';
import { FAULTS, type Fault } from './plan.js';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const num = (name: string, dflt: number): number => {
  const v = Number(arg(name) ?? dflt);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a number`);
  return v;
};
const badFault = arg('faults')?.split(',').find((f) => !(FAULTS as readonly string[]).includes(f));
if (badFault) throw new Error(`--faults: unknown fault ${badFault} (known: ${FAULTS.join(', ')})`);
const only = arg('only')?.split(',') ?? ['single', 'workers', 'exhaust'];
// A signal ends the run through process.exit, so the children are killed (children.ts).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => process.exit(130));
const progress = (msg: string): void => void process.stderr.write(`[soak] ${msg}\n`);

const base: Omit<SoakOptions, 'label'> = {
  sessions: num('sessions', 5000),
  concurrency: num('concurrency', 1000),
  seed: num('seed', 20_240_614),
  maxBytes: num('max-bytes', 2 * 1024 * 1024),
  faultShare: num('fault-share', 0.4),
  faults: arg('faults')?.split(',') as Fault[] | undefined,
  // The defaults a deployment runs with, except the connect timeout: 30 s would make
  // every hanging-backend session hold a slot for half a minute.
  closeTimeoutS: num('close-timeout', 5),
  connectTimeoutS: num('connect-timeout', 3),
  sessionTimeoutMs: 120_000,
  progress,
};

let broken = 0;
console.log(`wsgate fault soak, ${new Date().toISOString().slice(0, 10)}`);
if (only.includes('single')) {
  const r = await runSoak({ ...base, label: 'single process' });
  broken += r.broken.length;
  console.log(renderSoak(r));
}
if (only.includes('workers')) {
  const r = await runSoak({ ...base, label: '--workers 2', workers: 2 });
  broken += r.broken.length;
  console.log(renderSoak(r));
}
if (only.includes('exhaust')) {
  const r = await runExhaustion({ nofile: 1024, silent: 1200, holdS: num('hold', 100), stopWhenHealthy: false, progress });
  console.log(renderExhaustion(r));
}
process.exitCode = broken > 0 ? 1 : 0;
