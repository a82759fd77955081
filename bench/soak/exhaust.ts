// Descriptor exhaustion: the gateway runs under a low open-files limit
// (prlimit), one session relays steadily (echoed by the backend, checked
// byte for byte), and silent TCP connections (connect, send nothing, never
// answer a FIN: allowHalfOpen, as a hostile or broken client would) are
// opened until the gateway has no descriptor left. While they are held the
// soak watches the session and asks /healthz every 2 s; then it closes them
// and asks again.
import net from 'node:net';
import WebSocket from 'ws';
import { SoakGateway } from './gateway.js';
import { between, prng, PrefixCheck, slice } from './streams.js';

export interface ExhaustionOptions {
  /** The gateway's open-files limit (soft and hard). */
  nofile: number;
  /** Silent connections to open (more than the limit: the surplus shows what the gateway does when full). */
  silent: number;
  /** How long to hold them. */
  holdS: number;
  /** Stop holding early once /healthz has answered while full. */
  stopWhenHealthy: boolean;
  progress?: (msg: string) => void;
}

export interface ExhaustionReport {
  nofile: number;
  holdS: number;
  silentOpened: number;
  /** Silent connections the gateway closed as soon as they came (no descriptor left to keep them). */
  silentShedAtOnce: number;
  /** The others, accepted; at the end of the hold, how many the gateway had sent a FIN (which they never answer) or reset. */
  silentHeld: { accepted: number; finned: number; reset: number };
  fdsIdle: number;
  fdsFilled: number;
  fdsEndOfHold: number;
  fdsAfter: number;
  relay: { bytes: number; problem: string | undefined; longestGapMs: number };
  /** Seconds after the fill when /healthz first answered 200 while full, or undefined. */
  healthyAfterS: number | undefined;
  healthWhileFull: string;
  healthAfter: string;
  timeline: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A backend that echoes every byte. */
async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {}).on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** One session that sends a chunk, waits for its echo, checks it, and goes on (every 5 ms) until stopped. */
function steadyRelay(url: string): { opened: Promise<void>; stop(): void; bytes(): number; problem(): string | undefined; longestGapMs(): number } {
  const rand = prng(7);
  const check = new PrefixCheck(0, 'up', Number.MAX_SAFE_INTEGER);
  const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
  let problem: string | undefined;
  let stopped = false;
  let sent = 0;
  let lastEcho = Date.now();
  let longestGap = 0;
  const send = (): void => {
    if (stopped || ws.readyState !== WebSocket.OPEN) return;
    const n = between(rand, 1, 16 * 1024);
    ws.send(slice(0, 'up', sent, n));
    sent += n;
  };
  ws.on('message', (d: Buffer) => {
    check.add(d);
    if (!check.correct) problem ??= `echoed byte ${check.firstBad} wrong`;
    const now = Date.now();
    longestGap = Math.max(longestGap, now - lastEcho);
    lastEcho = now;
    if (check.bytes === sent) setTimeout(send, 5);
  });
  ws.on('error', (e) => (problem ??= `session error: ${e.message}`));
  ws.on('close', (code) => {
    if (!stopped) problem ??= `session closed (${code}) while relaying`;
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      send();
      resolve();
    });
    ws.once('close', (code) => reject(new Error(`relay session closed before open (${code})`)));
  });
  opened.catch(() => {});
  return {
    opened,
    stop: () => {
      stopped = true;
      // The last echo may be in flight: a gap counts only while relaying.
      longestGap = Math.max(longestGap, check.bytes === sent ? 0 : Date.now() - lastEcho);
      ws.terminate();
    },
    bytes: () => check.bytes,
    problem: () => problem,
    longestGapMs: () => longestGap,
  };
}

/**
 * Connections that send nothing and never close their side: they read (so a
 * FIN from the gateway is seen) but never answer it (allowHalfOpen).
 */
class SilentConnections {
  readonly #sockets: net.Socket[] = [];
  /** Got a FIN from the gateway. */
  finned = 0;
  /** Closed (before destroy()): the gateway reset them. */
  closed = 0;
  #destroying = false;

  /** Opens `n` at once; resolves when each has connected or closed. */
  open(port: number, n: number): Promise<unknown> {
    return Promise.all(
      Array.from({ length: n }, () => {
        const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        this.#sockets.push(s);
        s.on('error', () => {}).resume();
        s.on('end', () => this.finned++);
        s.on('close', () => {
          if (!this.#destroying) this.closed++;
        });
        return new Promise<void>((r) => s.once('connect', () => r()).once('close', () => r()));
      }),
    );
  }

  destroy(): void {
    this.#destroying = true;
    for (const s of this.#sockets.splice(0)) s.destroy();
  }
}

export async function runExhaustion(o: ExhaustionOptions): Promise<ExhaustionReport> {
  const say = o.progress ?? (() => {});
  const echo = await echoServer();
  let silent: SilentConnections | undefined;
  let gw: SoakGateway | undefined;
  try {
    gw = await SoakGateway.start({
      nofile: o.nofile,
      config: { listen: '127.0.0.1:0', logLevel: 'info', routes: [{ path: '*', handler: 'tcp-proxy', target: `127.0.0.1:${echo.port}` }] },
    });
    const g = gw;
    const health = async (): Promise<string> => {
      try {
        const h = await g.health(1500);
        return h.status === 200 ? 'ok' : `HTTP ${h.status}`;
      } catch (e) {
        return (e as Error).message;
      }
    };
    const relay = steadyRelay(`${g.url}/relay`);
    await relay.opened;
    const fdsIdle = g.fds();
    say(`exhaustion: gateway pid ${g.pid} under nofile ${o.nofile}, ${fdsIdle} fds with one session; opening ${o.silent} silent connections`);

    silent = new SilentConnections();
    for (let i = 0; i < o.silent; i += 50) await silent.open(g.port, Math.min(50, o.silent - i));
    await sleep(500);
    const fdsFilled = g.fds();
    // Past the limit libuv accepts and closes at once (its EMFILE reserve descriptor): a FIN right away.
    const shedAtOnce = silent.finned;
    const timeline: string[] = [];
    const t0 = Date.now();
    let healthyAfterS: number | undefined;
    say(`exhaustion: ${o.silent - shedAtOnce} silent connections held (${shedAtOnce} closed at once), gateway at ${fdsFilled} fds; watching for ${o.holdS} s`);
    while (Date.now() - t0 < o.holdS * 1000) {
      const answer = await health();
      const at = (Date.now() - t0) / 1000;
      timeline.push(
        `t=${at.toFixed(0).padStart(3)} s  /healthz: ${answer.padEnd(22)} gateway fds ${g.fds()}; of the ${o.silent - shedAtOnce} held: FIN from the gateway on ${silent.finned - shedAtOnce}, reset ${silent.closed}; echoed ${relay.bytes()} B`,
      );
      if (answer === 'ok' && healthyAfterS === undefined) healthyAfterS = at;
      if (healthyAfterS !== undefined && o.stopWhenHealthy) break;
      await sleep(2000);
    }
    const holdS = Math.round((Date.now() - t0) / 1000);
    const held = { accepted: o.silent - shedAtOnce, finned: silent.finned - shedAtOnce, reset: silent.closed };
    const fdsEndOfHold = g.fds();
    const relayProblem = relay.problem() ?? (relay.longestGapMs() > 3000 ? `no echo for ${relay.longestGapMs()} ms` : undefined);
    const relayBytes = relay.bytes();
    const longestGapMs = relay.longestGapMs();
    relay.stop();

    silent.destroy();
    let healthAfter = 'no answer within 10 s';
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(250)) {
      const answer = await health();
      if (answer === 'ok') {
        healthAfter = 'ok';
        break;
      }
      healthAfter = `${answer} (still failing after 10 s)`;
    }
    await sleep(500);
    return {
      nofile: o.nofile,
      holdS,
      silentOpened: o.silent,
      silentShedAtOnce: shedAtOnce,
      silentHeld: held,
      fdsIdle,
      fdsFilled,
      fdsEndOfHold,
      fdsAfter: g.fds(),
      relay: { bytes: relayBytes, problem: relayProblem, longestGapMs },
      healthyAfterS,
      healthWhileFull: healthyAfterS === undefined ? `no answer in ${holdS} s` : `answered 200 after ${healthyAfterS.toFixed(0)} s`,
      healthAfter,
      timeline,
    };
  } finally {
    silent?.destroy();
    await gw?.stop();
    await echo.close();
  }
}
