// A client TLS certificate, as websockify's ClientCertCNAuth checks it: the
// connection is TLS, the listener verified the certificate against its CA
// (`authorized`), and the subject's common name (CN) is one of `subjects`.
// Asking for the certificate (requestCert, the CA) is the TLS listener's
// business; this reads what the handshake established.
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import type { AuthCheck, AuthOutcome } from './auth.js';

export class CertAuth implements AuthCheck {
  readonly #subjects: Set<string>;

  constructor(subjects: string[]) {
    this.#subjects = new Set(subjects);
  }

  check(req: IncomingMessage): AuthOutcome {
    const socket = req.socket;
    if (!(socket instanceof TLSSocket)) return refuse('client certificate required, but the connection is not TLS', false);
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return refuse('no client certificate', false);
    if (!socket.authorized) return refuse(`client certificate not trusted: ${String(socket.authorizationError)}`, true, cert.subject?.CN);
    const cn = cert.subject?.CN;
    // A subject may hold several CNs; every one must be allowed, or a second CN could smuggle a name in.
    const names = Array.isArray(cn) ? cn : cn === undefined ? [] : [cn];
    if (names.length === 0 || !names.every((n) => this.#subjects.has(n))) return refuse('certificate subject not allowed', true, cn);
    return { ok: true, identity: { cn: names.join(',') } };
  }

  close(): void {}
}

function refuse(reason: string, presented: boolean, cn?: string | string[]): AuthOutcome {
  return { ok: false, presented, refusal: { status: 403, reason, ...(cn !== undefined ? { fields: { cn } } : {}) } };
}
