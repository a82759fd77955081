// The original module's TCP proxy: find the target (fixed, or looked up by
// the client's token), dial it before the handshake completes (so a dead
// backend is a 502/504, not an accept-then-close), negotiate
// `binary`/`base64`, then relay until either side ends: the relay reads the
// backend, and the client's messages and close reach it through this
// handler's message() and close() hooks.
import { accept, refuse, type Handler, type HandlerFactory } from './types.js';
import { ConfigValueError, parseSeconds } from '../config/units.js';
import { parseHostPort } from '../config/host-port.js';
import { dial, describeTarget, DialError, type BackendConnection, type DialTarget } from '../proxy/dial.js';
import { chooseSubprotocol, type Encoding } from '../proxy/codec.js';
import { lookupService } from '../proxy/services.js';
import { relay, type Relay } from '../proxy/relay.js';
import { TokenTargets, tokenSchema, type ResolverBlock, type TokenOptions } from '../proxy/token-targets.js';
import { ClusterHandoff, type PreparedHandoff } from '../proxy/cluster-handoff/gateway-side.js';
import { HandoffError } from '../proxy/cluster-handoff/frame.js';
import { GuacamoleRelay } from '../proxy/guacamole/relay.js';
import { tunnelRelayOptions, tunnelSchema, type TunnelOptions } from '../proxy/guacamole/route-options.js';
import { GuacamoleStatus, statusReason } from '../proxy/guacamole/status.js';
import { recordSchema, routeRecording, startRecording, type RecordBlock } from '../proxy/recording/recorder.js';
import { TokenSessionLimit } from '../proxy/token-limit.js';

interface TcpProxyOptions extends TunnelOptions {
  /** `guacamole`: whole Guacamole instructions per message, both ways (subprotocol `guacamole`). */
  framing?: 'none' | 'guacamole';
  target?: string;
  unixTarget?: string;
  connectTimeout?: number;
  localAddress?: string;
  keepAlive?: number | false;
  noDelay?: boolean;
  subprotocols?: string[];
  token?: TokenOptions;
  resolver?: ResolverBlock;
  allow?: string[];
  clusterHandoff?: unknown;
  record?: RecordBlock;
  maxSessionsPerToken?: number;
}

interface ProxyState {
  backend: BackendConnection;
  encoding: Encoding;
  /** The token that chose the target, kept so a revocation can find the session. */
  token?: string;
  /** Gives back the token's place (maxSessionsPerToken); a no-op without that limit. */
  leaveToken: () => void;
  /** Set by open(). */
  relay: Relay | null;
}

export const createTcpProxy: HandlerFactory = async (ctx) => {
  const opts = ctx.options<TcpProxyOptions>({
    properties: {
      target: { type: 'string', minLength: 1 },
      unixTarget: { type: 'string', minLength: 1 },
      connectTimeout: { type: 'number', exclusiveMinimum: 0 },
      localAddress: { type: 'string', minLength: 1 },
      keepAlive: { anyOf: [{ type: 'number', minimum: 0 }, { const: false }] },
      noDelay: { type: 'boolean' },
      subprotocols: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      token: tokenSchema,
      resolver: { type: 'object' },
      allow: { type: 'array', items: { type: 'string' } },
      clusterHandoff: { type: 'object' },
      framing: { enum: ['none', 'guacamole'] },
      ...tunnelSchema,
      record: recordSchema,
      maxSessionsPerToken: { type: 'integer', minimum: 1 },
    },
  });
  const guacamole = opts.framing === 'guacamole';
  if (!guacamole) for (const field of Object.keys(tunnelSchema)) if (field in opts) ctx.invalid(field, 'only applies with framing: guacamole');
  // With a resolver the token picks the target; the fixed target is the default otherwise.
  const tokens = opts.resolver ? await TokenTargets.create(ctx, { token: opts.token, resolver: opts.resolver, allow: opts.allow }) : null;
  if (tokens && (opts.target !== undefined || opts.unixTarget !== undefined)) ctx.invalid('resolver', 'give either a resolver or a fixed target, not both');
  if (!tokens && (opts.token || opts.allow || opts.maxSessionsPerToken)) {
    ctx.invalid(opts.token ? 'token' : opts.allow ? 'allow' : 'maxSessionsPerToken', 'only applies with a resolver');
  }
  const perToken = opts.maxSessionsPerToken ? new TokenSessionLimit(opts.maxSessionsPerToken) : null;
  const fixed = tokens ? null : resolveTarget(opts, ctx.invalid);
  // The key and the node's parameters come from the lookup, so a hand-off needs a resolver.
  if (opts.clusterHandoff !== undefined && !tokens) ctx.invalid('clusterHandoff', 'needs a resolver (the key and the node come from the lookup)');
  const handoff = opts.clusterHandoff === undefined ? null : ClusterHandoff.fromRoute(ctx, opts.clusterHandoff);
  const accepted = opts.subprotocols ?? (guacamole ? ['guacamole'] : ['binary', 'base64']);
  const connectTimeoutMs = parseSeconds(opts.connectTimeout ?? 30);
  // The original's Timeout was the connect timeout and, in Guacamole mode, the backend's idle timeout too.
  const tunnel = guacamole ? { ...tunnelRelayOptions({ invalid: ctx.invalid, log: ctx.log, closeTimeoutMs: ctx.route.closeTimeout }, opts, { backendIdleMs: connectTimeoutMs, nopIntervalMs: 0 }), log: ctx.log } : null;
  // A Guacamole tunnel records Guacamole's format (or frames, as noVNC's); a byte stream noVNC's or FBS.
  const recording = opts.record ? routeRecording(opts.record, ctx.invalid, ctx.baseDir, guacamole ? ['guac', 'novnc'] : ['novnc', 'fbs']) : null;
  const dialOptions = {
    timeoutMs: connectTimeoutMs,
    localAddress: opts.localAddress,
    keepAliveMs: opts.keepAlive === false ? 0 : parseSeconds(opts.keepAlive ?? 60),
    noDelay: opts.noDelay ?? true,
  };

  const handler: Handler<ProxyState> = {
    async connect(c) {
      const choice = chooseSubprotocol(c.offeredProtocols, accepted);
      if (!choice) return refuse(400, `client offered subprotocols [${c.offeredProtocols.join(', ')}], this route speaks [${accepted.join(', ')}]`);
      let target = fixed;
      let token: string | undefined;
      let params: Record<string, string> | undefined;
      let prepared: PreparedHandoff | undefined;
      let leaveToken = NOTHING_HELD;
      if (tokens) {
        const found = await tokens.lookup(c);
        if (!found.ok) return refuse(found.status, found.reason);
        target = { host: found.target.host, port: found.target.port };
        token = found.token;
        params = found.target.params;
        const ready = handoff?.prepare(found.token, found.target.params, c.log);
        if (ready && !ready.ok) return refuse(403, ready.reason);
        prepared = ready?.handoff;
        if (perToken) {
          const place = perToken.take(token);
          if (!place) return refuse(429, `limit of ${perToken.max} sessions per token reached`);
          leaveToken = place;
        }
      }
      try {
        const backend = await dial(target!, { ...dialOptions, signal: c.signal });
        await prepared?.perform(backend, dialOptions.timeoutMs, c.signal);
        return accept({ backend, encoding: choice.encoding, token, leaveToken, relay: null }, { protocol: choice.protocol, target: describeTarget(target!), params });
      } catch (e) {
        leaveToken();
        if (e instanceof DialError) return refuse(e.httpStatus, e.message);
        if (e instanceof HandoffError) return refuse(502, e.message);
        throw e;
      }
    },
    open(state, session) {
      if (tokens && state.token !== undefined) tokens.track(state.token, session, tunnel ? statusReason(GuacamoleStatus.CLIENT_UNAUTHORIZED) : undefined);
      if (tunnel) {
        const guacamole = new GuacamoleRelay(session, state.backend, { ...tunnel, recorder: recording && startRecording(recording, session.id, ctx.log) });
        guacamole.start();
        state.relay = guacamole;
        return;
      }
      state.relay = relay(session, state.backend.socket, state.backend.reader, {
        encoding: state.encoding,
        closeTimeoutMs: ctx.route.closeTimeout,
        log: ctx.log,
        traffic: ctx.log.isLevelEnabled('trace'),
        recorder: recording && startRecording(recording, session.id, ctx.log),
      }, state.backend.earlyError);
    },
    message(state, _session, data, isBinary) {
      state.relay?.fromClient(data, isBinary);
    },
    close(state) {
      // The runtime has logged "session closed"; the backend now gets FIN after
      // what was written to it, and is destroyed if it does not close within closeTimeout.
      if (state.relay) state.relay.clientClosed();
      else state.backend.socket.destroy(); // open() failed before the relay started
      state.leaveToken();
    },
    abandon(state) {
      state.backend.socket.destroy();
      state.leaveToken();
    },
    shutdown: () => tokens?.close(),
  };
  return handler;
};

const NOTHING_HELD = () => {};

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
