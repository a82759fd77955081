// Benchmark entry point: runs wsgate, websockify and the floor relay side by
// side, interleaved by round, and prints medians and ratios.
// Usage: node dist/bench/run.js [--quick] [--rounds=N] [--only=echo,setup,resolvers,cluster,guacamole,policies] [--gateways=wsgate,floor]
//        [--wsgate-args="--workers auto"] [--baseline=DIR]
// (--only/--gateways/--rounds are for iterating on one scenario; the default is the full comparison;
// --wsgate-args appends options to every wsgate start, after any a scenario sets itself;
// --baseline adds a `baseline` gateway, DIR/bin/wsgate.js run with wsgate's arguments, so
// before/after numbers come from one interleaved run)
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Backend } from './backend.js';
import { closeWs, connectWs, readBytes } from './client.js';
import {
  GATEWAYS,
  REPO_ROOT,
  WSGATE_BASE_ARGS,
  baselineCommit,
  baselineGateway,
  ensureWebsockify,
  isWsgate,
  mergeWsgateArgs,
  startGateway,
  unsupportedWsgateFlag,
  websockifyVersion,
  type GatewayName,
} from './gateways.js';
import { isAlive } from './proc-stats.js';
import { columns, renderNotes, renderTable, summarize, type Results } from './report.js';
import type { Ctx, Outcome, Scenario } from './scenarios/common.js';
import { echo } from './scenarios/echo.js';
import { idleSessions, setupRate, websockifyIdleCap } from './scenarios/sessions.js';
import { closeAfterLastByte, tcpToWs, wsToTcp } from './scenarios/throughput.js';
import { renderResolverRates, resolverSetupRates } from './resolvers.js';
import { clusterRates, renderClusterRates } from './cluster.js';
import { guacamoleRates, renderGuacamoleRates } from './guacamole.js';
import { policySetupRates, renderPolicyRates } from './policies.js';
import { Scope, TimeoutError, freePort, log, sleep, withTimeout } from './util.js';

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const rounds = Number(arg('rounds') ?? (quick ? 1 : 3));
const only = arg('only')?.split(',');
const globalWsgateArgs = arg('wsgate-args')?.split(/\s+/).filter(Boolean) ?? [];
const baselineDir = arg('baseline');
// The baseline runs right after wsgate so the pair sees the same machine load.
const specs = baselineDir ? GATEWAYS.flatMap((g) => (g.name === 'wsgate' ? [g, baselineGateway(baselineDir)] : [g])) : GATEWAYS;
const gateways = arg('gateways')?.split(',') ?? specs.map((g) => g.name);
const cols = columns(baselineDir !== undefined);

const allScenarios: Scenario[] = [
  tcpToWs(1),
  tcpToWs(16, { eventLoop: true }),
  wsToTcp(1),
  wsToTcp(16),
  echo(),
  setupRate(),
  closeAfterLastByte(),
  idleSessions(1000),
  ...(quick ? [] : [idleSessions(5000)]),
  // One process cannot hold 10,000 client + 10,000 backend sockets under the
  // 20000 fd limit: two wsgate workers hold ~10,000 each.
  idleSessions(10_000, ['--workers', '2']),
];
const scenarios = allScenarios.filter((s) => !only || only.includes(s.id));
const wsgateArgsOf = (sc: Scenario): string[] => mergeWsgateArgs(sc.wsgateArgs ?? [], globalWsgateArgs);

/** A reason not to run `sc` for `name`: the scenario's own, or a wsgate option this build (or the baseline's) lacks. */
function skipReason(sc: Scenario, name: GatewayName): string | undefined {
  const args = wsgateArgsOf(sc);
  if (name === 'wsgate') {
    const flag = unsupportedWsgateFlag(args);
    if (flag) return `not run in ${sc.id}: it needs ${flag}, which this wsgate build does not offer yet`;
  } else if (name === 'baseline') {
    const flag = unsupportedWsgateFlag(args, baselineDir);
    if (flag) return `not run in ${sc.id}: it needs ${flag}, which the baseline build's --help does not list`;
  }
  return sc.skip?.(name, quick, args);
}

/**
 * The gateways of one round. wsgate and the baseline swap places every other
 * round, so neither always runs first after the previous scenario's load.
 */
function runOrder(round: number): GatewayName[] {
  const names = specs.map((g) => g.name).filter((n) => gateways.includes(n));
  const [a, b] = [names.indexOf('wsgate'), names.indexOf('baseline')];
  if (round % 2 === 0 && a >= 0 && b >= 0) [names[a], names[b]] = [names[b]!, names[a]!];
  return names;
}

/** A gateway that will not start or relay one byte is left out for the rest of the run. */
const disabled = new Map<GatewayName, string>();

/** Proves the gateway relays one byte before a scenario's numbers are trusted. */
async function probe(ctx: Ctx): Promise<void> {
  const { ws, opened } = connectWs(ctx.gw.url);
  ctx.scope.add(() => ws.terminate());
  const first = readBytes(ws, 1);
  first.catch(() => {});
  const sock = await ctx.backend.next();
  sock.write('P');
  await opened;
  await first;
  await closeWs(ws, 1000);
}

async function runOne(sc: Scenario, name: GatewayName): Promise<Record<string, Outcome>> {
  const all = (o: Outcome): Record<string, Outcome> => Object.fromEntries(sc.metrics.map((m) => [m.id, o]));
  const spec = specs.find((g) => g.name === name)!;
  const scope = new Scope();
  let pid = 0;
  try {
    const backend = await Backend.start();
    scope.add(() => backend.close());
    const port = await freePort();
    let ctx: Ctx;
    try {
      const gw = await startGateway(spec, port, `127.0.0.1:${backend.port}`, isWsgate(name) ? wsgateArgsOf(sc) : []);
      pid = gw.pid;
      scope.add(() => gw.stop());
      ctx = { gw, backend, quick, scope };
      await withTimeout(probe(ctx), 5000, 'probe');
    } catch (e) {
      const why = `could not start or relay: ${(e as Error).message}`;
      // A start that failed only with this scenario's own options leaves the gateway enabled for the rest.
      if (!(isWsgate(name) && sc.wsgateArgs?.length)) disabled.set(name, why);
      return all({ status: 'skipped', note: why });
    }
    backend.reset();
    return await withTimeout(sc.run(ctx), sc.timeoutMs, sc.id);
  } catch (e) {
    const died = pid && !isAlive(pid) ? ' (gateway process died)' : '';
    const status = e instanceof TimeoutError ? 'timeout' : 'error';
    return all({ status, note: (e as Error).message + died });
  } finally {
    await scope.close();
  }
}

async function main(): Promise<void> {
  const badFlag = unsupportedWsgateFlag(globalWsgateArgs);
  if (badFlag) throw new Error(`--wsgate-args: wsgate --help does not list ${badFlag}`);
  if (gateways.includes('baseline') && !baselineDir) throw new Error('--gateways lists baseline, but no --baseline=DIR was given');
  ensureWebsockify();
  const load = os.loadavg()[0]!;
  // Two cores: anything else running (a test suite, tsc) skews the numbers.
  if (load > 0.7) log(`warning: 1-min load average is ${load.toFixed(2)}; results will be noisy`);
  for (const g of specs) {
    const why = g.unavailable();
    if (why) disabled.set(g.name, why);
  }
  const results: Results = new Map();
  const started = Date.now();
  for (let round = 1; round <= rounds; round++) {
    for (const sc of scenarios) {
      for (const name of runOrder(round)) {
        let out: Record<string, Outcome>;
        const skipWhy = disabled.get(name) ?? skipReason(sc, name);
        if (skipWhy) {
          const status = disabled.has(name) ? 'skipped' : 'n/a';
          out = Object.fromEntries(sc.metrics.map((m) => [m.id, { status, note: skipWhy }]));
        } else {
          const t0 = Date.now();
          out = await runOne(sc, name);
          const shown = Object.entries(out)
            .map(([k, o]) => `${k}=${o.value !== undefined ? o.value.toFixed(1) : ''}${o.status === 'ok' ? '' : ` ${o.status}`}`)
            .join(' ');
          log(`round ${round}/${rounds} ${sc.id} ${name}: ${shown} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        }
        for (const [id, o] of Object.entries(out)) {
          let byGw = results.get(id);
          if (!byGw) results.set(id, (byGw = new Map()));
          byGw.set(name, [...(byGw.get(name) ?? []), o]);
        }
        await sleep(200); // let the previous gateway's sockets and processes wind down
      }
    }
  }

  const rows = summarize(scenarios.flatMap((s) => s.metrics), results, rounds, cols);
  const notes = [
    `websockify idle sessions capped at ${websockifyIdleCap(quick)}: 0.10 cannot hold more than ~500 (select() on fds >= 1024 fails in its session processes) and opens them slowly.`,
    ...renderNotes(rows, cols),
    ...scenarios
      .filter((sc) => sc.wsgateArgs?.length && ranWsgate(results, sc))
      .map((sc) => `${sc.id} ran wsgate with ${wsgateArgsOf(sc).join(' ')}: several processes each grow their own heap, so per-session figures there run higher than in one process and are not directly comparable with the other rows.`),
  ];
  process.stdout.write(`\nwsgate bench (${quick ? 'quick' : 'full'}, ${rounds} round${rounds > 1 ? 's' : ''}; medians; 1-min load at start ${load.toFixed(2)})\n`);
  if (scenarios.length) {
    process.stdout.write(`${wsgateArgsLine()}\n`);
    if (baselineDir) process.stdout.write(`baseline: ${baselineDir} (${baselineCommit(baselineDir) ?? 'git log failed'}), run with the same arguments as wsgate\n`);
    process.stdout.write('\n' + renderTable(rows, cols) + '\n\n');
    process.stdout.write('Ratios: >1 means wsgate is better; "(inv)" rows are lower-is-better, so other/wsgate.\n');
    for (const n of new Set(notes)) process.stdout.write(`- ${n}\n`);
  }

  // Issue 3: what a token lookup costs per session, through each store.
  const resolverRates = !only || only.includes('resolvers') ? await resolverSetupRates(quick) : [];
  if (resolverRates.length) process.stdout.write(renderResolverRates(resolverRates));
  // The cluster hand-off: setup and throughput through gateway + cluster proxy vs the gateway alone.
  const cluster = !only || only.includes('cluster') ? await clusterRates(quick) : null;
  if (cluster) process.stdout.write(renderClusterRates(cluster));
  // Guacamole framing vs the binary relay vs guacamole-lite, on the same streams.
  const guacamole = !only || only.includes('guacamole') ? await guacamoleRates(quick, rounds) : null;
  if (guacamole) process.stdout.write(renderGuacamoleRates(guacamole));
  // What the edge policy (origin, Basic, JWT) costs per session.
  const policyRates = !only || only.includes('policies') ? await policySetupRates(quick) : [];
  if (policyRates.length) process.stdout.write(renderPolicyRates(policyRates));

  const dir = `${REPO_ROOT}bench/results`;
  mkdirSync(dir, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    rounds,
    seconds: Math.round((Date.now() - started) / 1000),
    ...(baselineDir ? { baseline: { dir: baselineDir, commit: baselineCommit(baselineDir) ?? null } } : {}),
    wsgateArgs: Object.fromEntries(scenarios.map((sc) => [sc.id, [...WSGATE_BASE_ARGS, ...wsgateArgsOf(sc)]])),
    host: { loadavgAtStart: load, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, websockify: websockifyVersion() },
    notes,
    resolverSetupRates: resolverRates,
    cluster,
    guacamole,
    policySetupRates: policyRates,
    metrics: rows.map((s) => ({
      ...s.metric,
      medians: Object.fromEntries(Object.entries(s.cells).map(([g, c]) => [g, c.median])),
      rounds: Object.fromEntries(Object.entries(s.cells).map(([g, c]) => [g, c.outcomes])),
      wsgateVsFloor: s.vsFloor,
      wsgateVsWebsockify: s.vsWebsockify,
      ...(baselineDir ? { wsgateVsBaseline: s.vsBaseline ?? null } : {}),
    })),
  };
  writeFileSync(`${dir}/latest.json`, JSON.stringify(json, null, 2) + '\n');
  log(`wrote ${dir}/latest.json (${json.seconds} s total)`);
}

/** Whether wsgate (or the baseline, also run with these args) produced any measurement (not a skip) in `sc`. */
function ranWsgate(results: Results, sc: Scenario): boolean {
  const byGw = results.get(sc.metrics[0]!.id);
  const outs = [...(byGw?.get('wsgate') ?? []), ...(byGw?.get('baseline') ?? [])];
  return outs.some((o) => o.status !== 'skipped' && o.status !== 'n/a');
}

/** "wsgate ran with: --log-level warn; idle_10000: --workers 2", so numbers are read with the right setup. */
function wsgateArgsLine(): string {
  const base = [...WSGATE_BASE_ARGS, ...globalWsgateArgs].join(' ');
  const own = scenarios
    .filter((sc) => wsgateArgsOf(sc).join(' ') !== globalWsgateArgs.join(' '))
    .map((sc) => `${sc.id}: ${[...WSGATE_BASE_ARGS, ...wsgateArgsOf(sc)].join(' ')}`);
  return `wsgate ran with: ${base}${own.length ? `; ${own.join('; ')}` : ''}`;
}

main()
  .catch((e) => {
    log(`bench failed: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  })
  // Clients or timers left by a timed-out scenario must not keep us alive;
  // the 'exit' hook in gateways.ts kills any gateway still running.
  .finally(() => process.exit());
