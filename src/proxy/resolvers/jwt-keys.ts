// Keys for the JWT resolver, parsed from their files (loaded once, then again
// when a file changes: see reloading-files.ts), with the algorithms each one
// may be used with. "none" is never among them.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { FileText } from './reloading-files.js';

export const SIGNING_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export interface VerifyKey {
  key: KeyObject | Uint8Array | JWTVerifyGetKey;
  /** The JWS algorithms accepted with this key, unless the config names them. */
  algorithms: string[];
}

export interface DecryptKey {
  key: KeyObject | Uint8Array;
  /** Only a shared secret authenticates a JWE by itself; a public-key JWE anyone can make. */
  symmetric: boolean;
  keyManagementAlgorithms: string[];
}

export const CONTENT_ENCRYPTION = ['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512'];

const CURVE_ALG: Record<string, string> = { prime256v1: 'ES256', 'P-256': 'ES256', secp384r1: 'ES384', 'P-384': 'ES384', secp521r1: 'ES512', 'P-521': 'ES512' };

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];

/** The algorithms a public key's type allows (the RSA family for RSA, ES256 for P-256, ...). */
function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return RSA_ALGORITHMS;
    case 'rsa-pss': return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const alg = CURVE_ALG[String(key.asymmetricKeyDetails?.namedCurve)];
      if (alg) return [alg];
      throw new Error(`unsupported EC curve ${String(key.asymmetricKeyDetails?.namedCurve)}`);
    }
    case 'ed25519': return ['EdDSA', 'Ed25519'];
    default: throw new Error(`unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}

function only(files: FileText[]): FileText {
  if (files.length !== 1) throw new Error('expected a file, found a directory');
  return files[0]!;
}

/** A PEM public key, certificate or private key (its public half is used). */
export function parsePublicKey(files: FileText[]): VerifyKey {
  const { file, text } = only(files);
  if (!text.includes('-----BEGIN')) throw new Error(`${file}: not a PEM key or certificate`);
  try {
    const key = createPublicKey(text);
    return { key, algorithms: algorithmsFor(key) };
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/**
 * websockify's JWTTokenApi key file: a PEM key (as parsePublicKey), or else
 * an HMAC secret written base64url-encoded (a JWK "k", as websockify's
 * jwcrypto reads it).
 */
export function parseKeyFile(files: FileText[]): VerifyKey {
  const { file, text } = only(files);
  if (text.includes('-----BEGIN')) return parsePublicKey(files);
  const secret = text.trim();
  if (!/^[A-Za-z0-9_-]+$/.test(secret)) throw new Error(`${file}: neither a PEM key nor a base64url-encoded secret`);
  return { key: new Uint8Array(Buffer.from(secret, 'base64url')), algorithms: HMAC_ALGORITHMS };
}

/** A JWKS file ({"keys": [...]}); keys are picked by "kid" and algorithm. */
export function parseJwks(files: FileText[]): VerifyKey {
  const { file, text } = only(files);
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(text) as JSONWebKeySet;
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) throw new Error(`${file}: no "keys" array`);
  const algorithms = new Set<string>();
  for (const jwk of jwks.keys) {
    if (jwk.alg) algorithms.add(jwk.alg);
    else if (jwk.kty === 'RSA') RSA_ALGORITHMS.forEach((a) => algorithms.add(a));
    else if (jwk.kty === 'EC' && jwk.crv && CURVE_ALG[jwk.crv]) algorithms.add(CURVE_ALG[jwk.crv]!);
    else if (jwk.kty === 'OKP') algorithms.add('EdDSA').add('Ed25519');
    else if (jwk.kty === 'oct') HMAC_ALGORITHMS.forEach((a) => algorithms.add(a));
  }
  return { key: createLocalJWKSet(jwks), algorithms: [...algorithms].filter((a) => SIGNING_ALGORITHMS.includes(a)) };
}

/**
 * A JWE decryption key: a PEM private key (RSA: RSA-OAEP*, EC/X25519: ECDH-ES*)
 * or a base64url-encoded secret of 16, 24, 32, 48 or 64 bytes (dir, AxxxKW;
 * 32 bytes for the usual dir + A256GCM).
 */
export function parseDecryptionKey(files: FileText[]): DecryptKey {
  const { file, text } = only(files);
  if (text.includes('-----BEGIN')) {
    let key: KeyObject;
    try {
      key = createPrivateKey(text);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
    const type = key.asymmetricKeyType;
    if (type === 'rsa') return { key, symmetric: false, keyManagementAlgorithms: ['RSA-OAEP-256', 'RSA-OAEP-384', 'RSA-OAEP-512', 'RSA-OAEP'] };
    if (type === 'ec' || type === 'x25519') return { key, symmetric: false, keyManagementAlgorithms: ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'] };
    throw new Error(`${file}: unsupported decryption key type ${String(type)}`);
  }
  const secret = text.trim();
  if (!/^[A-Za-z0-9_-]+$/.test(secret)) throw new Error(`${file}: neither a PEM private key nor a base64url secret`);
  const key = new Uint8Array(Buffer.from(secret, 'base64url'));
  if (![16, 24, 32, 48, 64].includes(key.length)) throw new Error(`${file}: the secret decodes to ${key.length} bytes (want 16, 24, 32, 48 or 64)`);
  return { key, symmetric: true, keyManagementAlgorithms: ['dir', 'A128KW', 'A192KW', 'A256KW'] };
}
