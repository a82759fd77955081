// A Gateway in this process on an ephemeral loopback port, and the wait for
// its sessions to be gone. Closed by the test that started it.
import { buildConfig } from '../../src/config/build.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { Gateway } from '../../src/server/gateway.js';
import { REPO_ROOT } from './paths.js';

export interface RunningGateway {
  gateway: Gateway;
  port: number;
  url(path?: string): string;
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a Gateway in this process from a raw config (as YAML would give it), on 127.0.0.1:<ephemeral>.
 * It logs to stderr at `logLevel`, or to `log` (e.g. a capturedLog() from logs.ts).
 */
export async function startGateway(raw: Record<string, unknown>, logLevel = process.env.WSGATE_TEST_LOG ?? 'silent', log?: Logger): Promise<RunningGateway> {
  const config = buildConfig({ listen: '127.0.0.1:0', ...raw }, () => undefined, REPO_ROOT);
  config.logLevel = log?.level ?? logLevel;
  const gateway = new Gateway(config, log ?? createLogger(logLevel, 2));
  const [address] = await gateway.start();
  const port = address!.port;
  return { gateway, port, url: (path = '/') => `ws://127.0.0.1:${port}${path}`, stop: (graceMs = 0) => gateway.stop(graceMs) };
}

/** Resolves once the gateway has no live session (rejects after timeoutMs, naming how many are left). */
export function sessionsDrained(gateway: Gateway, timeoutMs = 5000): Promise<void> {
  if (gateway.registry.size === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      gateway.registry.removeListener('empty', done);
      reject(new Error(`${gateway.registry.size} session(s) still open after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    gateway.registry.once('empty', done);
  });
}
