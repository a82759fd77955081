// The `http` resolver: websockify's BaseTokenAPI / JSONTokenApi, for portals
// that already answer "where does this token go?". Only 403, 404 and 410 mean
// "no such token"; anything else is the API failing (503), so an outage never
// looks like a wrong token. One keep-alive agent per resolver, capped at
// `maxSockets`, so a burst of clients cannot flood the API. The request
// format, the replies and the options are in docs/resolvers.md.
import http from 'node:http';
import https from 'node:https';
import { networkErrorMessage } from '../../config/host-port.js';
import { throwIfAborted } from './aborting.js';
import { StoreError, type ResolvedTarget, type ResolverFactory, type TargetResolver } from './types.js';
import { targetFromJson, targetFromText } from './websockify-values.js';
import type { RecordKeys } from './record.js';

interface HttpConfig {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  maxSockets?: number;
}

/** Token lookups answer with a few fields; a bigger reply is an API gone wrong. */
const MAX_REPLY = 64 * 1024;
const PLACEHOLDERS = /%s|\{token\}/g;

export const create: ResolverFactory = (env) => {
  const opts = env.options<HttpConfig>({
    properties: {
      url: { type: 'string', pattern: '^https?://' },
      method: { enum: ['GET', 'POST'] },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      maxSockets: { type: 'integer', minimum: 1, maximum: 1024 },
    },
    required: ['url'],
  });
  let url: URL;
  try {
    url = new URL(opts.url.replace(PLACEHOLDERS, 'x'));
  } catch {
    return env.invalid('url', 'not a valid URL');
  }
  const secure = url.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 16 };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  return new HttpApiResolver(opts, agent, secure, env.keys.json);
};

interface Reply {
  status: number;
  type: string;
  body: string;
}

class HttpApiResolver implements TargetResolver {
  readonly kind = 'http';
  readonly #opts: HttpConfig;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #keys: RecordKeys;

  constructor(opts: HttpConfig, agent: http.Agent, secure: boolean, keys: RecordKeys) {
    this.#keys = keys;
    this.#opts = opts;
    this.#agent = agent;
    this.#request = secure ? https.request : http.request;
  }

  async resolve(token: string, signal: AbortSignal): Promise<ResolvedTarget | null> {
    throwIfAborted(signal, this.kind);
    let reply: Reply;
    try {
      reply = await this.#send(token, signal, true);
    } catch (err) {
      throwIfAborted(signal, this.kind);
      throw new StoreError(this.kind, networkErrorMessage(err));
    }
    if (reply.status === 403 || reply.status === 404 || reply.status === 410) return null;
    if (reply.status !== 200) throw new StoreError(this.kind, `the API answered HTTP ${reply.status}`);
    const text = reply.body.trim();
    if (reply.type.includes('json') || text.startsWith('{')) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new StoreError(this.kind, 'the API answered invalid JSON');
      }
      return targetFromJson(value, this.#keys) ?? fail('the API answered JSON without a usable host and port');
    }
    return targetFromText(text) ?? fail('the API answered neither JSON nor host:port');
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }

  #send(token: string, signal: AbortSignal, mayRetry: boolean): Promise<Reply> {
    const { method = 'GET', headers = {} } = this.#opts;
    const encoded = encodeURIComponent(token);
    let target = this.#opts.url.replace(PLACEHOLDERS, () => encoded);
    if (method === 'GET' && !/%s|\{token\}/.test(this.#opts.url)) {
      const url = new URL(target);
      url.searchParams.append('token', token);
      target = url.href;
    }
    const body = method === 'POST' ? JSON.stringify({ token }) : undefined;
    const sendHeaders = body ? { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : headers;
    return new Promise<Reply>((resolve, reject) => {
      const req = this.#request(target, { method, headers: sendHeaders, agent: this.#agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY) req.destroy(new Error(`the API's reply is larger than ${MAX_REPLY} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
        res.on('close', () => reject(new Error('the API closed the connection mid-reply'))); // no-op after 'end'
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed just as we reused it: one fresh try.
        if (mayRetry && req.reusedSocket && err.code === 'ECONNRESET' && !signal.aborted) this.#send(token, signal, false).then(resolve, reject);
        else reject(err);
      });
      req.end(body);
    });
  }
}

function fail(message: string): never {
  throw new StoreError('http', message);
}
