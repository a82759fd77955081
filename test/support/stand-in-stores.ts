// Stores that misbehave, on loopback: a server that accepts connections and
// never answers (a hung Redis, PostgreSQL or MariaDB looks like this from
// the gateway), and a switch in front of a real store that a test turns off
// (every connection is cut and new ones are reset) and on again.
import net from 'node:net';
import { once } from 'node:events';

export interface StandIn {
  port: number;
  close(): Promise<void>;
}

async function serve(onSocket: (socket: net.Socket) => void): Promise<{ server: net.Server; sockets: Set<net.Socket>; port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, sockets, port: (server.address() as net.AddressInfo).port };
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/** Accepts every connection and never sends a byte. */
export async function hungStore(): Promise<StandIn> {
  const { server, sockets, port } = await serve(() => {});
  return { port, close: closer(server, sockets) };
}

export interface StoreSwitch extends StandIn {
  /** Connections reach the store from now on. */
  on(): void;
  /** Cuts every connection; new ones are reset as soon as they are accepted. */
  off(): void;
}

/** A port in front of the store at 127.0.0.1:`storePort`, off to begin with. */
export async function storeSwitch(storePort: number): Promise<StoreSwitch> {
  let up = false;
  const { server, sockets, port } = await serve((client) => {
    if (!up) return void client.destroy();
    const store = net.connect(storePort, '127.0.0.1');
    sockets.add(store);
    store.on('close', () => {
      sockets.delete(store);
      client.destroy();
    });
    store.on('error', () => {});
    client.on('close', () => store.destroy());
    client.pipe(store).pipe(client);
  });
  return {
    port,
    on: () => void (up = true),
    off: () => {
      up = false;
      for (const s of sockets) s.destroy();
    },
    close: closer(server, sockets),
  };
}
