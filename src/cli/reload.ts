// A reload reads the command line again, and with it the --config file, so
// that a config error is reported exactly as at start (FILE:LINE). What may
// change and how it applies is the Gateway's (reload()) and
// src/config/reload.ts's; this file turns the outcome into one log line and
// an answer for the admin API.
import { ConfigError } from '../config/errors.js';
import { fixedFieldsError, type ReloadOutcome } from '../config/reload.js';
import type { GatewayConfig } from '../config/types.js';
import { releaseValidators } from '../config/validate.js';
import type { Logger } from '../observability/logger.js';
import type { Gateway } from '../server/gateway.js';
import { parseCommandLine } from './args.js';

/** The configuration `argv` describes now, or why it cannot replace `running`. */
export function readNextConfig(argv: string[], running: GatewayConfig): { config: GatewayConfig } | { error: string } {
  try {
    const command = parseCommandLine(argv);
    if (command.kind !== 'run') return { error: 'the command line no longer starts a gateway' };
    const fixed = fixedFieldsError(running, command.config);
    if (fixed) return { error: fixed };
    return { config: command.config };
  } catch (e) {
    if (e instanceof ConfigError) return { error: e.message };
    throw e;
  } finally {
    releaseValidators();
  }
}

/** Reloads `gateway` from `argv`; a bad config is logged and refused whole, the running one stays. */
export async function reloadGateway(argv: string[], gateway: Gateway, log: Logger): Promise<ReloadOutcome> {
  log.info('reloading the config');
  const next = readNextConfig(argv, gateway.config);
  if ('error' in next) return refused(log, next.error);
  try {
    const { routes } = await gateway.reload(next.config);
    return { ok: true, routes };
  } catch (e) {
    return refused(log, e instanceof ConfigError ? e.message : (e as Error).message);
  } finally {
    releaseValidators();
  }
}

export function refused(log: Logger, error: string): ReloadOutcome {
  log.error({ error }, 'reload refused: the running config stays');
  return { ok: false, error };
}
