// One connection from a gateway: greet it with a fresh nonce, read and
// verify its document within the handshake timeout, check the node it
// names against the allowlist, dial the node, then splice the two. Every
// refusal closes the connection with one log line that says why (the key
// only as a fingerprint, the secret never); a version 2 gateway also gets
// the reason in a result frame once its whole document has been read.
import net, { type Socket } from 'node:net';
import { formatHostPort } from '../../config/host-port.js';
import { fingerprint, type Logger } from '../../observability/logger.js';
import { FrameCollector, GATEWAY_MAGIC, MAX_PAYLOAD, type Frame } from '../cluster-handoff/frame.js';
import { encodeGreeting, HandoffRefusal, newNonce, verifyDocument, type Verified } from '../cluster-handoff/proxy-side.js';
import { encodeResult, RESULT, type ResultStatus } from '../cluster-handoff/v2.js';
import type { ClusterProxyConfig } from './config.js';
import { splice } from './splice.js';

/** After a refusal, how long the gateway may take to read the result before the socket is destroyed. */
const LINGER_MS = 2000;

export function serveConnection(gateway: Socket, config: ClusterProxyConfig, log: Logger, track: (socket: Socket) => void): void {
  const started = Date.now();
  const fields = { remote: gateway.remoteAddress, remotePort: gateway.remotePort };
  const nonce = newNonce();
  const collector = new FrameCollector({ magic: GATEWAY_MAGIC, versions: config.versions, maxPayload: MAX_PAYLOAD, what: 'document' });
  let settled = false;

  const refuse = (why: string, extra: Record<string, unknown> = {}, status?: Exclude<ResultStatus, 0>) => {
    if (settled) return;
    settled = true;
    cleanUp();
    log.warn({ ...fields, ...extra, why, durationMs: Date.now() - started }, 'hand-off refused');
    if (status === undefined || gateway.destroyed) {
      gateway.destroy();
      return;
    }
    gateway.end(encodeResult(status, why));
    setTimeout(() => gateway.destroy(), LINGER_MS).unref();
  };
  const onData = (chunk: Buffer) => {
    let done;
    try {
      done = collector.push(chunk);
    } catch (e) {
      return refuse((e as Error).message);
    }
    if (!done) return;
    gateway.removeListener('data', onData);
    gateway.removeListener('end', onEnd);
    gateway.pause();
    // Bytes after the document are the session's: they wait for the node.
    if (done.rest.length > 0) gateway.unshift(done.rest);
    judge(done.frame);
  };
  const onEnd = () => refuse(`the gateway closed the connection after ${collector.buffered} bytes, before its document was complete`);
  const onError = (err: NodeJS.ErrnoException) => refuse(`gateway connection failed: ${err.code ?? err.message}`);
  const timer = setTimeout(() => refuse(`no complete document within ${config.handshakeTimeoutMs} ms`), config.handshakeTimeoutMs);
  const cleanUp = () => {
    clearTimeout(timer);
    gateway.removeListener('data', onData);
    gateway.removeListener('end', onEnd);
    gateway.removeListener('error', onError);
  };

  const judge = (frame: Frame) => {
    clearTimeout(timer);
    let verified: Verified;
    try {
      verified = verifyDocument(frame, nonce, { secret: config.secret, maxSkewMs: config.maxSkewMs });
    } catch (e) {
      const status = e instanceof HandoffRefusal && frame.version === 2 ? e.status : undefined;
      return refuse((e as Error).message, { version: frame.version }, status);
    }
    const v2 = verified.version === 2;
    const who = { version: verified.version, key: fingerprint(verified.key) };
    const node = nodeOf(verified, config);
    if (typeof node === 'string') return refuse(node, who, v2 ? RESULT.forbidden : undefined);
    const nodeName = formatHostPort(node.host, node.port);
    if (!config.allow.allows(node.host, node.port)) return refuse(`node ${nodeName} is outside the allowlist`, who, v2 ? RESULT.forbidden : undefined);

    const socket = net.connect({ host: node.host, port: node.port, localAddress: config.localAddress, allowHalfOpen: true, noDelay: true });
    track(socket);
    const dialTimer = setTimeout(() => {
      socket.destroy();
      refuse(`connecting to node ${nodeName} timed out after ${config.connectTimeoutMs} ms`, who, v2 ? RESULT.unreachable : undefined);
    }, config.connectTimeoutMs);
    const gatewayGone = () => {
      socket.destroy();
      refuse(`the gateway left while node ${nodeName} was being dialed`, who);
    };
    gateway.once('close', gatewayGone);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(dialTimer);
      refuse(`cannot connect to node ${nodeName}: ${err.code ?? err.message}`, who, v2 ? RESULT.unreachable : undefined);
    });
    socket.once('connect', () => {
      clearTimeout(dialTimer);
      gateway.removeListener('close', gatewayGone);
      if (settled) return socket.destroy();
      settled = true;
      cleanUp();
      socket.removeAllListeners('error');
      if (config.keepAliveMs > 0) socket.setKeepAlive(true, config.keepAliveMs);
      if (v2) gateway.write(encodeResult(RESULT.ok, 'connected'));
      const local = formatHostPort(socket.localAddress!, socket.localPort!);
      log.info({ ...fields, ...who, node: nodeName, local }, 'connection open');
      splice(gateway, socket, (end) => {
        log.info({ ...fields, ...who, node: nodeName, toNode: end.toNode, fromNode: end.fromNode, durationMs: Date.now() - started, ...(end.error ? { error: end.error } : {}) }, 'connection closed');
      });
    });
  };

  gateway.on('data', onData);
  gateway.on('end', onEnd);
  gateway.on('error', onError);
  if (config.keepAliveMs > 0) gateway.setKeepAlive(true, config.keepAliveMs);
  gateway.write(encodeGreeting(config.versions, nonce));
}

/** The node the parameters name, or why they name none. */
function nodeOf(verified: Verified, config: ClusterProxyConfig): { host: string; port: number } | string {
  const param = (name: string) => verified.params.find(([n]) => n === name)?.[1];
  const host = param(config.paramHost);
  const portText = param(config.paramPort);
  if (host === undefined || host === '') return `the document names no node (no parameter ${config.paramHost})`;
  if (portText === undefined) return `the document names no node port (no parameter ${config.paramPort})`;
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return `parameter ${config.paramPort} is not a port number: ${JSON.stringify(portText.slice(0, 40))}`;
  return { host, port };
}
