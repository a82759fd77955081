// wsgate's /healthz?loop=1: event-loop figures since the previous such request
// (the first request starts the sampler, so its own figures mean little).
import http from 'node:http';

export interface LoopStats {
  utilization: number;
  delayMs: { p50: number; p99: number; max: number };
  windowMs: number;
}

/** A /healthz that answers but has no eventLoop field: a build from before ?loop=1. */
export class NoLoopStatsError extends Error {}

/** One request on a fresh connection (agent:false), so no keep-alive socket lingers. */
export function loopStats(gatewayUrl: string): Promise<LoopStats> {
  const { hostname, port } = new URL(gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: hostname, port, path: '/healthz?loop=1', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          const loop = (JSON.parse(body) as { eventLoop?: LoopStats }).eventLoop;
          const why = `HTTP ${res.statusCode}, no eventLoop in ${body.trim().slice(0, 80)}`;
          if (res.statusCode === 200 && !loop) throw new NoLoopStatsError(why);
          if (res.statusCode !== 200 || !loop) throw new Error(why);
          resolve(loop);
        } catch (e) {
          const msg = `/healthz?loop=1: ${(e as Error).message}`;
          reject(e instanceof NoLoopStatsError ? new NoLoopStatsError(msg) : new Error(msg));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('/healthz?loop=1: no answer in 5 s')));
    req.on('error', reject);
  });
}
