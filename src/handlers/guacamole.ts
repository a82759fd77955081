// The guacamole handler: a Guacamole tunnel endpoint in front of guacd, as
// Guacamole's own web application is, without the web application. The
// client's token is looked up by any of tcp-proxy's resolvers; the record's
// fields are the connection's settings (`protocol`, and every parameter by
// its guacd name; optionally `guacdhost`/`guacdport`). guacd is dialed
// before the 101 (so a dead guacd is a 502/504), then the session opens
// with the tunnel UUID, the gateway does the guacd handshake, and the relay
// carries whole instructions both ways.
import { randomUUID } from 'node:crypto';
import { accept, refuse, type Handler, type HandlerFactory } from './types.js';
import { ConfigValueError, parseSeconds } from '../config/units.js';
import { parseHostPort } from '../config/host-port.js';
import { dial, describeTarget, DialError, type BackendConnection } from '../proxy/dial.js';
import { chooseSubprotocol } from '../proxy/codec.js';
import { lookupService } from '../proxy/services.js';
import { TokenTargets, tokenSchema, type ResolverBlock, type TokenOptions } from '../proxy/token-targets.js';
import type { RecordKeySet } from '../proxy/resolvers/record.js';
import { fingerprint } from '../observability/logger.js';
import { GuacamoleRelay } from '../proxy/guacamole/relay.js';
import { GuacdHandshake, type ClientInfo, type ConnectionSettings } from '../proxy/guacamole/guacd-handshake.js';
import { clientInfo, clientSettingsFromQuery } from '../proxy/guacamole/client-info.js';
import { encodeInstruction } from '../proxy/guacamole/instruction.js';
import { GuacamoleStatus, statusReason } from '../proxy/guacamole/status.js';
import { tunnelRelayOptions, tunnelSchema, type TunnelOptions } from '../proxy/guacamole/route-options.js';
import { recordSchema, routeRecording, startRecording, type RecordBlock } from '../proxy/recording/recorder.js';

interface GuacamoleOptions extends TunnelOptions {
  /** host:port of guacd (default 127.0.0.1:4822); a record's guacdhost/guacdport win. */
  guacd?: string;
  resolver: ResolverBlock;
  token?: TokenOptions;
  allow?: string[];
  /** Settings the client may give in the query string, by their guacd names (e.g. width, height, dpi). */
  clientSettings?: string[];
  connectTimeout?: number;
  localAddress?: string;
  keepAlive?: number | false;
  record?: RecordBlock;
}

interface TunnelState {
  backend: BackendConnection;
  token: string;
  /** Until open: they hold passwords and keys, so they live no longer than the handshake. */
  settings: ConnectionSettings | null;
  client: ClientInfo;
  relay: GuacamoleRelay | null;
}

/** A record's fields are settings; guacdhost/guacdport, if there, pick the guacd. */
const SETTINGS_KEYS: RecordKeySet = {
  sql: { host: 'guacdhost', port: 'guacdport', optional: true },
  json: { host: 'guacdhost', port: 'guacdport', optional: true },
};
/** guacd answers nothing for 15 s only if it is gone (it sends nop every 5 s): Guacamole's own socket timeout. */
const BACKEND_IDLE_MS = 15_000;
/** The web client calls a tunnel unstable after 1.5 s without a message. */
const NOP_INTERVAL_MS = 1000;

export const createGuacamole: HandlerFactory = async (ctx) => {
  const opts = ctx.options<GuacamoleOptions>({
    required: ['resolver'],
    properties: {
      guacd: { type: 'string', minLength: 1 },
      resolver: { type: 'object' },
      token: tokenSchema,
      allow: { type: 'array', items: { type: 'string' } },
      clientSettings: { type: 'array', items: { type: 'string', minLength: 1 } },
      connectTimeout: { type: 'number', exclusiveMinimum: 0 },
      localAddress: { type: 'string', minLength: 1 },
      keepAlive: { anyOf: [{ type: 'number', minimum: 0 }, { const: false }] },
      ...tunnelSchema,
      record: recordSchema,
    },
  });
  const guacd = guacdAddress(opts.guacd ?? '127.0.0.1:4822', ctx.invalid);
  const tokens = await TokenTargets.create(ctx, { token: opts.token, resolver: opts.resolver, allow: opts.allow, keys: SETTINGS_KEYS, fallback: guacd });
  const tunnel = { ...tunnelRelayOptions({ invalid: ctx.invalid, log: ctx.log, closeTimeoutMs: ctx.route.closeTimeout }, opts, { backendIdleMs: BACKEND_IDLE_MS, nopIntervalMs: NOP_INTERVAL_MS }), log: ctx.log };
  const recording = opts.record ? routeRecording(opts.record, ctx.invalid, ctx.baseDir, ['guac']) : null;
  const clientSettings = opts.clientSettings ?? [];
  const dialOptions = {
    timeoutMs: parseSeconds(opts.connectTimeout ?? 30),
    localAddress: opts.localAddress,
    keepAliveMs: opts.keepAlive === false ? 0 : parseSeconds(opts.keepAlive ?? 60),
    // Nagle would hold each handshake instruction for the previous one's ACK (~40 ms a round).
    noDelay: true,
  };

  const handler: Handler<TunnelState> = {
    async connect(c) {
      const choice = chooseSubprotocol(c.offeredProtocols, ['guacamole']);
      if (!choice) return refuse(400, `client offered subprotocols [${c.offeredProtocols.join(', ')}], this route speaks [guacamole]`);
      const found = await tokens.lookup(c);
      if (!found.ok) return refuse(found.status, found.reason);
      const { protocol, ...values } = found.target.params;
      if (!protocol) {
        c.log.warn({ token: fingerprint(found.token) }, 'the token\'s record has no "protocol" field');
        return refuse(403, 'no protocol for this token');
      }
      const settings = { protocol, values: { ...values, ...clientSettingsFromQuery(c.url.searchParams, clientSettings) } };
      const target = { host: found.target.host, port: found.target.port };
      try {
        const backend = await dial(target, { ...dialOptions, signal: c.signal });
        const state: TunnelState = { backend, token: found.token, settings, client: clientInfo(c.url.searchParams, settings.values), relay: null };
        // No `params`: the settings hold secrets, and params are shown in session lists.
        return accept(state, { protocol: choice.protocol, target: `${describeTarget(target)} (${protocol})` });
      } catch (e) {
        if (e instanceof DialError) return refuse(e.httpStatus, e.message);
        throw e;
      }
    },
    open(state, session) {
      // Revoked: CLIENT_UNAUTHORIZED, whose pair is the same 1008 as any revocation.
      tokens.track(state.token, session, statusReason(GuacamoleStatus.CLIENT_UNAUTHORIZED));
      state.relay = new GuacamoleRelay(session, state.backend, {
        ...tunnel,
        // The tunnel's UUID, random per session: the web client keys its tunnel by it, and it must
        // say nothing about the token or guacd's connection id (which lets anyone reaching guacd join).
        greeting: encodeInstruction(['', randomUUID()]),
        handshake: new GuacdHandshake(state.settings!, state.client),
        recorder: recording && startRecording(recording, session.id, ctx.log),
      });
      state.settings = null;
      state.relay.start();
    },
    message(state, _session, data, isBinary) {
      state.relay?.fromClient(data, isBinary);
    },
    close(state) {
      if (state.relay) state.relay.clientClosed();
      else state.backend.socket.destroy(); // open() failed before the relay started
    },
    abandon(state) {
      state.backend.socket.destroy();
    },
    shutdown: () => tokens.close(),
  };
  return handler;
};

function guacdAddress(text: string, invalid: (field: string, message: string) => never): { host: string; port: number } {
  try {
    const { host, port } = parseHostPort(text);
    const number = typeof port === 'number' ? port : lookupService(port);
    if (number === undefined) invalid('guacd', `unknown service name "${port}" (not in /etc/services)`);
    if (number === 0) invalid('guacd', 'port 0 cannot be dialed');
    return { host: host!, port: number };
  } catch (e) {
    if (e instanceof ConfigValueError) invalid('guacd', e.message);
    throw e;
  }
}
