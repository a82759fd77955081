// guacamole-lite 1.2.0 as its README runs it, for the bench's comparison:
//   node dist/bench/guacamole-lite-server.js LISTEN_PORT GUACD_PORT KEY
// An HTTP server on LISTEN_PORT carries its WebSocket server; tokens are
// decrypted with KEY (32 characters, AES-256-CBC). Only errors are logged. It
// prints "listening" when it accepts; whatever it throws ends the process, as
// it would end a deployment's, and the bench reports that.
import http from 'node:http';
import { createRequire } from 'node:module';

const [listenPort, guacdPort, key] = process.argv.slice(2);
const GuacamoleLite = createRequire(import.meta.url)('guacamole-lite') as new (ws: object, guacd: object, client: object) => unknown;
const server = http.createServer();
new GuacamoleLite(
  { server },
  { host: '127.0.0.1', port: Number(guacdPort) },
  {
    crypt: { cypher: 'AES-256-CBC', key },
    log: { level: 10 }, // LOGLEVEL.ERRORS
    // The bench's client only reads; its default 10 s without a client message would end long runs.
    maxInactivityTime: 0,
  },
);
server.listen(Number(listenPort), '127.0.0.1', () => process.stdout.write('listening\n'));
