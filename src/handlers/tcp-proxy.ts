// The original module's TCP proxy: dial the target before the handshake
// completes (so a dead backend is a 502/504, not an accept-then-close),
// negotiate `binary`/`base64`, then relay until either side ends.
import type { Socket } from 'node:net';
import { accept, refuse, type Handler, type HandlerFactory } from './types.js';
import { ConfigValueError, parseHostPort, parseSeconds } from '../config/units.js';
import { dial, describeTarget, DialError, type DialTarget } from '../proxy/dial.js';
import { chooseSubprotocol, type Encoding } from '../proxy/codec.js';
import { lookupService } from '../proxy/services.js';
import { relay } from '../proxy/relay.js';

interface TcpProxyOptions {
  target?: string;
  unixTarget?: string;
  connectTimeout?: number;
  localAddress?: string;
  keepAlive?: number | false;
  noDelay?: boolean;
  subprotocols?: string[];
}

interface ProxyState {
  backend: Socket;
  encoding: Encoding;
}

export const createTcpProxy: HandlerFactory = (ctx) => {
  const opts = ctx.options<TcpProxyOptions>({
    properties: {
      target: { type: 'string', minLength: 1 },
      unixTarget: { type: 'string', minLength: 1 },
      connectTimeout: { type: 'number', exclusiveMinimum: 0 },
      localAddress: { type: 'string', minLength: 1 },
      keepAlive: { anyOf: [{ type: 'number', minimum: 0 }, { const: false }] },
      noDelay: { type: 'boolean' },
      subprotocols: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    },
  });
  const target = resolveTarget(opts, ctx.invalid);
  const targetName = describeTarget(target);
  const accepted = opts.subprotocols ?? ['binary', 'base64'];
  const dialOptions = {
    timeoutMs: parseSeconds(opts.connectTimeout ?? 30),
    localAddress: opts.localAddress,
    keepAliveMs: opts.keepAlive === false ? 0 : parseSeconds(opts.keepAlive ?? 60),
    noDelay: opts.noDelay ?? true,
  };

  const handler: Handler<ProxyState> = {
    async connect(c) {
      const choice = chooseSubprotocol(c.offeredProtocols, accepted);
      if (!choice) return refuse(400, `client offered subprotocols [${c.offeredProtocols.join(', ')}], this route speaks [${accepted.join(', ')}]`);
      try {
        const backend = await dial(target, { ...dialOptions, signal: c.signal });
        return accept({ backend, encoding: choice.encoding }, { protocol: choice.protocol, target: targetName });
      } catch (e) {
        if (e instanceof DialError) return refuse(e.httpStatus, e.message);
        throw e;
      }
    },
    open(state, session) {
      relay(session, state.backend, {
        encoding: state.encoding,
        closeTimeoutMs: ctx.route.closeTimeout,
        log: ctx.log,
        traffic: ctx.log.isLevelEnabled('trace'),
      });
    },
    abandon(state) {
      state.backend.destroy();
    },
  };
  return handler;
};

function resolveTarget(opts: TcpProxyOptions, invalid: (field: string, message: string) => never): DialTarget {
  if (opts.unixTarget !== undefined) {
    if (opts.target !== undefined) invalid('unixTarget', 'give either target or unixTarget, not both');
    return { path: opts.unixTarget };
  }
  if (opts.target === undefined) invalid('target', 'is required for handler tcp-proxy (host:port), or give unixTarget');
  try {
    const { host, port } = parseHostPort(opts.target);
    if (port === 0) invalid('target', 'port 0 cannot be dialed');
    if (typeof port === 'number') return { host: host!, port };
    const known = lookupService(port);
    if (known === undefined) invalid('target', `unknown service name "${port}" (not in /etc/services)`);
    return { host: host!, port: known };
  } catch (e) {
    if (e instanceof ConfigValueError) invalid('target', e.message);
    throw e;
  }
}
