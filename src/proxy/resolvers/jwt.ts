// The `jwt` resolver: the token is itself the target (claims `host`, `port`),
// verified with jose, so there is no store to ask and none to be down: a
// token that fails any check resolves null (403), never a StoreError (503).
// A JWE holding bare claims is accepted only with a shared secret: with a
// key pair, anyone holding the public key could make one. Keys, algorithms
// and the accepted JWE forms are in docs/resolvers.md.
import path from 'node:path';
import { compactDecrypt, jwtDecrypt, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { fingerprint, type Logger } from '../../observability/logger.js';
import { throwIfAborted } from './aborting.js';
import { CONTENT_ENCRYPTION, HMAC_ALGORITHMS, parseDecryptionKey, parseJwks, parseKeyFile, parsePublicKey, SIGNING_ALGORITHMS, type DecryptKey, type VerifyKey } from './jwt-keys.js';
import { targetFromRecord, type RecordKeys } from './record.js';
import { ReloadingFiles, type FileText } from './reloading-files.js';
import { refusal, type LookupAnswer, type ResolverFactory, type TargetResolver } from './types.js';

interface JwtConfig {
  secret?: string;
  publicKey?: string;
  jwks?: string;
  keyFile?: string;
  decryptionKey?: string;
  algorithms?: string[];
  audience?: string | string[];
  issuer?: string | string[];
  clockTolerance?: number;
}

interface KeySource<T> {
  readonly value: T;
  close(): void;
}

const oneOrMany = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] };

export const create: ResolverFactory = async (env) => {
  const opts = env.options<JwtConfig>({
    properties: {
      secret: { type: 'string', minLength: 1 },
      publicKey: { type: 'string', minLength: 1 },
      jwks: { type: 'string', minLength: 1 },
      keyFile: { type: 'string', minLength: 1 },
      decryptionKey: { type: 'string', minLength: 1 },
      algorithms: { type: 'array', minItems: 1, items: { enum: SIGNING_ALGORITHMS } },
      audience: oneOrMany,
      issuer: oneOrMany,
      clockTolerance: { type: 'number', minimum: 0 },
    },
  });
  const signing = (['secret', 'publicKey', 'jwks', 'keyFile'] as const).filter((f) => opts[f] !== undefined);
  if (signing.length > 1) env.invalid(signing[1]!, `give one of secret, publicKey, jwks or keyFile, not ${signing.join(' and ')}`);
  if (signing.length === 0 && opts.decryptionKey === undefined) env.invalid('secret', 'one of secret, publicKey, jwks, keyFile or decryptionKey is required');

  const open = <T>(field: 'publicKey' | 'jwks' | 'keyFile' | 'decryptionKey', parse: (files: FileText[]) => T): Promise<KeySource<T>> =>
    ReloadingFiles.open({ path: path.resolve(env.baseDir, opts[field]!), parse, log: env.log, what: `JWT ${field}` }).catch((err: Error) =>
      env.invalid(field, err.message),
    );
  let verify: KeySource<VerifyKey> | null = null;
  if (opts.secret !== undefined) verify = { value: { key: new TextEncoder().encode(opts.secret), algorithms: HMAC_ALGORITHMS }, close() {} };
  else if (opts.publicKey !== undefined) verify = await open('publicKey', parsePublicKey);
  else if (opts.jwks !== undefined) verify = await open('jwks', parseJwks);
  else if (opts.keyFile !== undefined) verify = await open('keyFile', parseKeyFile);
  const decrypt = opts.decryptionKey === undefined ? null : await open('decryptionKey', parseDecryptionKey);
  if (decrypt && !decrypt.value.symmetric && !verify) {
    decrypt.close();
    env.invalid('decryptionKey', 'a JWE made with a public key proves nothing by itself: configure secret, publicKey, jwks or keyFile to verify the signed JWT inside it');
  }
  const claims: JWTVerifyOptions = { audience: opts.audience, issuer: opts.issuer, clockTolerance: opts.clockTolerance };
  return new JwtResolver(verify, decrypt, opts.algorithms ?? null, claims, env.log, env.keys.json);
};

/** Why a token was refused, for the log (never the token itself). */
class Refused extends Error {}

class JwtResolver implements TargetResolver {
  readonly kind = 'jwt';
  readonly #verify: KeySource<VerifyKey> | null;
  readonly #decrypt: KeySource<DecryptKey> | null;
  readonly #algorithms: string[] | null;
  readonly #claimChecks: JWTVerifyOptions;
  readonly #log: Logger;
  readonly #keys: RecordKeys;

  constructor(verify: KeySource<VerifyKey> | null, decrypt: KeySource<DecryptKey> | null, algorithms: string[] | null, claimChecks: JWTVerifyOptions, log: Logger, keys: RecordKeys) {
    this.#keys = keys;
    this.#verify = verify;
    this.#decrypt = decrypt;
    this.#algorithms = algorithms;
    this.#claimChecks = claimChecks;
    this.#log = log;
  }

  async resolve(token: string, signal: AbortSignal): Promise<LookupAnswer> {
    throwIfAborted(signal, this.kind);
    let payload: JWTPayload;
    try {
      payload = await this.#claims(token);
    } catch (err) {
      const why = (err as { code?: string }).code ?? (err as Error).message;
      this.#log.info({ token: fingerprint(token), why }, 'JWT refused');
      // jose checks the signature (or decrypts) before the claims: an expired token was a genuine one.
      return why === 'ERR_JWT_EXPIRED' ? refusal('expired') : null;
    }
    throwIfAborted(signal, this.kind);
    const target = targetFromRecord(payload, this.#keys);
    if (!target) this.#log.info({ token: fingerprint(token) }, 'JWT has no usable host and port claims');
    return target;
  }

  async close(): Promise<void> {
    this.#verify?.close();
    this.#decrypt?.close();
  }

  async #claims(token: string): Promise<JWTPayload> {
    const segments = token.split('.').length;
    if (segments === 3) return this.#verified(token);
    if (segments !== 5) throw new Refused('neither a compact JWS nor a compact JWE');
    const d = this.#decrypt?.value;
    if (!d) throw new Refused('encrypted, but no decryptionKey is configured');
    const algs = { keyManagementAlgorithms: d.keyManagementAlgorithms, contentEncryptionAlgorithms: CONTENT_ENCRYPTION };
    const { plaintext } = await compactDecrypt(token, d.key, algs);
    const inner = new TextDecoder().decode(plaintext);
    if (!inner.trimStart().startsWith('{')) return this.#verified(inner); // nested: a signed JWT inside
    if (!d.symmetric) throw new Refused('a public-key JWE must carry a signed JWT');
    return (await jwtDecrypt(token, d.key, { ...this.#claimChecks, ...algs })).payload;
  }

  async #verified(jws: string): Promise<JWTPayload> {
    const v = this.#verify?.value;
    if (!v) throw new Refused('signed, but no secret, publicKey, jwks or keyFile is configured');
    const options = { ...this.#claimChecks, algorithms: this.#algorithms ?? v.algorithms };
    const result = typeof v.key === 'function' ? await jwtVerify(jws, v.key, options) : await jwtVerify(jws, v.key, options);
    return result.payload;
  }
}
