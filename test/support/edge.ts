// Helpers for the edge-policy tests: the health check that every refusal
// must leave intact, Basic credentials, and a small PKI (a CA, a server
// certificate for 127.0.0.1, client certificates) made with openssl.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';

/** GET /healthz on 127.0.0.1:port: the status and the parsed body. */
export function health(port: number): Promise<{ status: number; body: { status: string; sessions: number } }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      })
      .on('error', reject);
  });
}

/** The Authorization header of HTTP Basic. */
export function basic(user: string, password: string): { Authorization: string } {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export interface Pki {
  ca: Buffer;
  server: { key: Buffer; cert: Buffer };
  /** A client certificate signed by the CA, with this CN. */
  client(cn: string): { key: Buffer; cert: Buffer };
  /** A self-signed client certificate (not from the CA), with this CN. */
  stranger(cn: string): { key: Buffer; cert: Buffer };
}

/** A throwaway CA in `dir` and certificates from it (P-256 keys: quick to make). */
export function makePki(dir: string): Pki {
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const f = (name: string) => join(dir, name);
  run(['req', '-x509', ...newKey, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', '/CN=wsgate test CA', '-days', '2']);
  const signed = (name: string, subj: string, ext?: string) => {
    run(['req', ...newKey, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', subj]);
    const extArgs: string[] = [];
    if (ext) {
      writeFileSync(f(`${name}.ext`), ext);
      extArgs.push('-extfile', f(`${name}.ext`));
    }
    run(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', ...extArgs]);
    return { key: readFileSync(f(`${name}.key`)), cert: readFileSync(f(`${name}.crt`)) };
  };
  let n = 0;
  return {
    ca: readFileSync(f('ca.crt')),
    server: signed('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\n'),
    client: (cn) => signed(`client-${++n}`, `/CN=${cn}`),
    stranger: (cn) => {
      const name = `stranger-${++n}`;
      run(['req', '-x509', ...newKey, '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-subj', `/CN=${cn}`, '-days', '2']);
      return { key: readFileSync(f(`${name}.key`)), cert: readFileSync(f(`${name}.crt`)) };
    },
  };
}

/** Opens a handshake and resolves with its status and response headers (101: the socket is then closed). */
export function answerOf(url: string, options: import('ws').ClientOptions = {}, protocols?: string | string[]): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return import('ws').then(
    ({ WebSocket }) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url, protocols, options);
        ws.once('upgrade', (res) => {
          resolve({ status: 101, headers: res.headers });
          ws.terminate();
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve({ status: res.statusCode!, headers: res.headers });
          res.resume();
          ws.terminate();
        });
        ws.once('error', (err) => reject(err));
      }),
  );
}

/** The live-session list of a gateway (sessionsPath /sessions). */
export function sessionList(port: number): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/sessions' }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve((JSON.parse(text) as { sessions: Array<Record<string, unknown>> }).sessions));
      })
      .on('error', reject);
  });
}
