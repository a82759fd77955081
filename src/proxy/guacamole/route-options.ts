// The route fields of a Guacamole tunnel, shared by tcp-proxy's
// `framing: guacamole` and the guacamole handler: their schema, and their
// conversion into relay options.
import { ConfigValueError, parseSeconds, parseSize } from '../../config/units.js';
import type { RouteFields } from '../token-targets.js';
import type { GuacamoleRelayOptions } from './relay.js';
import { DEFAULT_MESSAGE_BYTES, DEFAULT_PENDING_BYTES } from './framer.js';

export interface TunnelOptions {
  /** Seconds without a byte from the backend before the tunnel is closed (UPSTREAM_TIMEOUT); 0 = never. */
  backendIdleTimeout?: number;
  /** Seconds without a message to the browser before a `nop` is sent; 0 = never. */
  nopInterval?: number;
  /** The most an incomplete instruction may hold while it waits for its rest. */
  maxInstructionSize?: number | string;
}

const size = { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', minLength: 1 }] };

export const tunnelSchema = {
  backendIdleTimeout: { type: 'number', minimum: 0 },
  nopInterval: { type: 'number', minimum: 0 },
  maxInstructionSize: size,
} as const;

/** The relay's settings from the route; defaults differ per mode, so they are passed in. */
export function tunnelRelayOptions(
  ctx: Pick<RouteFields, 'invalid' | 'log'> & { closeTimeoutMs: number },
  opts: TunnelOptions,
  defaults: { backendIdleMs: number; nopIntervalMs: number },
): Pick<GuacamoleRelayOptions, 'backendIdleMs' | 'nopIntervalMs' | 'framing' | 'closeTimeoutMs' | 'traffic'> {
  let maxPendingBytes = DEFAULT_PENDING_BYTES;
  if (opts.maxInstructionSize !== undefined) {
    try {
      maxPendingBytes = parseSize(opts.maxInstructionSize);
    } catch (e) {
      if (e instanceof ConfigValueError) ctx.invalid('maxInstructionSize', e.message);
      throw e;
    }
    if (maxPendingBytes < 1024) ctx.invalid('maxInstructionSize', 'must be at least 1KiB');
  }
  return {
    backendIdleMs: opts.backendIdleTimeout === undefined ? defaults.backendIdleMs : parseSeconds(opts.backendIdleTimeout),
    nopIntervalMs: opts.nopInterval === undefined ? defaults.nopIntervalMs : parseSeconds(opts.nopInterval),
    framing: { maxMessageBytes: DEFAULT_MESSAGE_BYTES, maxPendingBytes },
    closeTimeoutMs: ctx.closeTimeoutMs,
    traffic: ctx.log.isLevelEnabled('trace'),
  };
}
