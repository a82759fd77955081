// `wsgate cluster-proxy`: the other end of the cluster hand-off. Gateways
// dial it, prove with the shared secret that they may, and name the node;
// it dials the node (from --local-address if given) and relays unchanged.
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Logger } from '../../observability/logger.js';
import type { ClusterProxyConfig } from './config.js';
import { serveConnection } from './connection.js';

export class ClusterProxy {
  readonly #config: ClusterProxyConfig;
  readonly #log: Logger;
  readonly #server: net.Server;
  /** Every socket open (gateways' and nodes'), so stop() can end them. */
  readonly #sockets = new Set<Socket>();

  constructor(config: ClusterProxyConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, (socket) => {
      this.#track(socket);
      serveConnection(socket, this.#config, this.#log, (s) => this.#track(s));
    });
  }

  /** Listens; rejects if the address cannot be had (in use, not local). */
  start(): Promise<AddressInfo> {
    const { host, port } = this.#config.listen;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.removeListener('error', reject);
        // After listening, an error is an accept failure (e.g. out of descriptors): said, not fatal.
        this.#server.on('error', (err: NodeJS.ErrnoException) => this.#log.error({ err: err.code ?? err.message }, 'cannot accept a connection'));
        const address = this.#server.address() as AddressInfo;
        this.#log.info({ address, versions: this.#config.versions, localAddress: this.#config.localAddress }, 'listening');
        resolve(address);
      });
    });
  }

  /** Stops accepting and ends every connection. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  get connections(): number {
    return this.#sockets.size;
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }
}
