// One VNC connection: the WebSocket URL from the settings, the RFB object on a
// WebSocket opened here, and a sentence for the user when it ends.
//
// The page opens the WebSocket itself and hands it to RFB (which accepts a
// WebSocket instead of a URL) so that it can read the close frame: RFB's
// `disconnect` event says only whether the end was clean, while the gateway
// says why in the close frame's code and reason ("backend error: ECONNRESET",
// "token revoked", "idle timeout"). A refusal before the WebSocket opens (an
// HTTP 403, 404, 502 or 503 answer to the upgrade) reaches a browser only as
// code 1006 with no reason; then one plain GET of the same URL tells a gateway
// that answered from one that could not be reached.
import RFB from '../core/rfb.js';

/** ws(s)://… for the settings; `path` may also be a whole ws:// URL, or relative to this page. */
export function websocketUrl(settings, page = location) {
  const path = settings.get('path');
  if (/^wss?:\/\//i.test(path)) return path;
  const scheme = settings.get('encrypt') ? 'wss:' : 'ws:';
  const host = settings.get('host');
  const port = settings.get('port');
  if (host !== '') {
    const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    return `${scheme}//${bracketed}${port ? ':' + port : ''}/${path.replace(/^\//, '')}`;
  }
  const url = new URL(path, page.href);
  url.protocol = scheme;
  if (port) url.port = port;
  url.hash = '';
  return url.href;
}

/**
 * A `serververification` event's key as the user can compare it: SHA-256 in
 * hex pairs (subtle crypto needs a secure context; elsewhere the key's first bytes).
 */
export async function fingerprint(detail) {
  if (detail.type !== 'RSA') return `a ${detail.type} key`;
  const key = detail.publickey;
  const bytes = globalThis.crypto?.subtle ? new Uint8Array(await crypto.subtle.digest('SHA-256', key)) : key.slice(0, 16);
  return [...bytes.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const CLOSE_CODES = {
  1000: 'closed normally',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1006: 'connection lost',
  1007: 'invalid data',
  1008: 'policy violation',
  1009: 'message too big',
  1011: 'server error',
  1012: 'service restart',
  1013: 'try again later',
  1015: 'TLS handshake failed',
};

export class Connection {
  /** The RFB object (window.rfb for scripts). */
  rfb;
  url;
  /** True once the WebSocket handshake completed. */
  opened = false;
  /** The WebSocket's close event, once it came. */
  closeEvent = null;
  /** The server's reason from a `securityfailure` event, if one came. */
  securityFailure = null;
  /** True after disconnect() was called. */
  byUser = false;
  #socket;
  #closed;

  /** `options` are RFB's (shared, credentials, repeaterID). */
  constructor(target, url, options) {
    this.url = url;
    this.#socket = new WebSocket(url);
    // Added before RFB takes the socket, so these run before RFB's own handlers.
    this.#socket.addEventListener('open', () => (this.opened = true));
    this.#closed = new Promise((resolve) => this.#socket.addEventListener('close', (e) => resolve((this.closeEvent = e))));
    try {
      this.rfb = new RFB(target, this.#socket, options);
    } catch (err) {
      this.#socket.close();
      throw err;
    }
    this.rfb.addEventListener('securityfailure', (e) => (this.securityFailure = e.detail));
  }

  disconnect() {
    this.byUser = true;
    this.rfb.disconnect();
  }

  /**
   * What to tell the user after RFB's `disconnect` event: { level: 'normal' |
   * 'warn' | 'error', text }. Waits briefly for the close frame, which RFB may
   * report after its own event.
   */
  async explain(clean) {
    if (this.byUser) return { level: 'normal', text: 'Disconnected' };
    if (this.securityFailure) {
      const reason = this.securityFailure.reason;
      return { level: 'error', text: `Authentication failed${reason ? ': ' + reason : ''}` };
    }
    const close = this.closeEvent ?? (await Promise.race([this.#closed, new Promise((resolve) => setTimeout(resolve, 1000, null))]));
    if (!this.opened) return { level: 'error', text: await this.#refusal() };
    if (!close) return { level: 'error', text: 'Something went wrong, connection is closed (see the browser console)' };
    const why = close.reason || CLOSE_CODES[close.code] || 'no reason given';
    if (close.code === 1006) return { level: 'error', text: `The connection to the gateway was lost (code 1006, no close frame)` };
    const level = close.code === 1000 && clean ? 'warn' : 'error';
    return { level, text: `The gateway closed the connection: ${why} (code ${close.code})` };
  }

  /** Why the WebSocket never opened: a GET of the same URL tells "refused" from "unreachable". */
  async #refusal() {
    const http = new URL(this.url);
    http.protocol = http.protocol === 'wss:' ? 'https:' : 'http:';
    const where = http.host;
    const sameOrigin = http.origin === location.origin;
    try {
      // Cross-origin, `no-cors` still tells an answer (opaque) from no answer (TypeError).
      await fetch(http.href, { method: 'GET', cache: 'no-store', mode: sameOrigin ? 'same-origin' : 'no-cors', redirect: 'manual' });
      return `The gateway at ${where} refused the connection (HTTP 403/404/502…); see its log`;
    } catch {
      return `Could not reach the gateway at ${where} (is it running, and is the address right?)`;
    }
  }
}
