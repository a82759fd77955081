// The edge policy as configured (src/config/edge-policy.ts): origin rules,
// route-over-top-level, auth entries checked by type and put in the checking
// order, and errors that name FILE:LINE and the field.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/file.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseOriginPolicy } from '../../src/config/edge-policy.js';
import { tempDir } from '../support/index.js';

const dir = tempDir(after, 'edge-policy');
let n = 0;
async function load(text: string) {
  const path = join(dir, `c-${++n}.yaml`);
  await writeFile(path, text);
  return { path, config: () => loadConfigFile(path) };
}

async function assertError(text: string, line: number, field: string, detail: RegExp): Promise<void> {
  const { path, config } = await load(text);
  assert.throws(config, (e: Error) => {
    assert.ok(e instanceof ConfigError, `${e.name}: ${e.message}`);
    assert.ok(e.message.startsWith(`${path}:${line}: ${field}: `), e.message);
    assert.match(e.message, detail);
    return true;
  });
}

test('origin policies: the words, lists (comma, space or YAML list), wildcards; the default is same-host', () => {
  assert.deepEqual(parseOriginPolicy('same-host'), { kind: 'same-host' });
  assert.deepEqual(parseOriginPolicy('same'), { kind: 'same' });
  assert.deepEqual(parseOriginPolicy('off'), { kind: 'off' });
  assert.deepEqual(parseOriginPolicy('https://a.example.com,http://B.example.com:8080 https://*.example.org/'), {
    kind: 'list',
    origins: [
      { scheme: 'https:', host: 'a.example.com', port: '', subdomains: false },
      { scheme: 'http:', host: 'b.example.com', port: '8080', subdomains: false },
      { scheme: 'https:', host: 'example.org', port: '', subdomains: true },
    ],
  });
  // The scheme's default port is the same origin as no port.
  assert.deepEqual(parseOriginPolicy(['https://a.example.com:443', 'http://[::1]:80']), {
    kind: 'list',
    origins: [
      { scheme: 'https:', host: 'a.example.com', port: '', subdomains: false },
      { scheme: 'http:', host: '[::1]', port: '', subdomains: false },
    ],
  });
  for (const bad of ['a.example.com', 'https://a.example.com/path', 'https://user@a.example.com', 'https://', ' , ']) {
    assert.throws(() => parseOriginPolicy(bad), /is not an origin|names no origin/, bad);
  }
});

test('a route inherits the top-level origin and refuse mode and may override them; limits and auth are its own', async () => {
  const { config } = await load(`
origin: [https://app.example.com]
refuse: close
maxSessionsPerAddress: 7
rateLimit: { perAddress: 2.5 }
routes:
  - { path: /a, handler: echo }
  - path: /b
    handler: echo
    origin: off
    refuse: http
    maxSessions: 3
    maxSessionsPerAddress: 2
    rateLimit: { perAddress: 1, burst: 4 }
`);
  const c = config();
  const [a, b] = c.routes;
  assert.deepEqual(a!.policy, {
    origin: { kind: 'list', origins: [{ scheme: 'https:', host: 'app.example.com', port: '', subdomains: false }] },
    originRequired: false,
    auth: [],
    maxSessions: 0,
    maxSessionsPerAddress: 0,
    rateLimit: null,
    refuse: 'close',
  });
  assert.deepEqual(b!.policy, { origin: { kind: 'off' }, originRequired: false, auth: [], maxSessions: 3, maxSessionsPerAddress: 2, rateLimit: { perAddress: 1, burst: 4 }, refuse: 'http' });
  // The top level's limits hold over every route together; a burst defaults to a second's worth.
  assert.equal(c.maxSessionsPerAddress, 7);
  assert.deepEqual(c.rateLimit, { perAddress: 2.5, burst: 3 });
  assert.deepEqual(c.authFailures, { max: 5, windowMs: 60_000, lockoutMs: 60_000 });
  const { config: defaults } = await load('routes: [{ path: /e, handler: echo }]\n');
  assert.deepEqual(defaults().routes[0]!.policy.origin, { kind: 'same-host' });
  assert.equal(defaults().routes[0]!.policy.refuse, 'auto');
  // The policy fields are not the handler's: echo takes no fields, and would refuse them.
  assert.deepEqual(defaults().routes[0]!.options, {});
});

test('auth entries: checked by type, files resolved against the config file, run cert, basic, jwt whatever the order', async () => {
  const { config } = await load(`
routes:
  - path: /a
    handler: echo
    auth:
      - { type: jwt, secret: s3cret, audience: wsgate, cookie: session }
      - { type: basic, users: users.txt }
      - { type: cert, subjects: [alice] }
`);
  const auth = config().routes[0]!.policy.auth;
  assert.deepEqual(auth.map((a) => a.type), ['cert', 'basic', 'jwt']);
  assert.deepEqual(auth[1], { type: 'basic', realm: 'wsgate', cacheTtl: 60_000, users: join(dir, 'users.txt') });
  assert.equal((auth[2] as { clockTolerance: number }).clockTolerance, 0);
});

test('edge-policy errors name FILE:LINE and the field', async () => {
  await assertError('routes:\n  - path: /a\n    handler: echo\n    origin: [https://ok.example, "ftp//bad"]\n', 4, 'routes[0].origin', /"ftp\/\/bad" is not an origin/);
  await assertError('origin: nonsense\nroutes: [{ path: /a, handler: echo }]\n', 1, 'origin', /"nonsense" is not an origin/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    refuse: maybe\n', 4, 'routes[0].refuse', /must be one of "http", "close", "auto"/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    auth:\n      - { type: ldap }\n', 5, 'routes[0].auth[0].type', /must be one of "cert", "basic", "jwt"/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    auth:\n      - type: basic\n        users: u.txt\n        passwd: x\n', 7, 'routes[0].auth[0].passwd', /unknown field/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    auth:\n      - { type: basic }\n', 5, 'routes[0].auth[0].users', /is required/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    auth:\n      - { type: jwt, secret: x }\n', 5, 'routes[0].auth[0].audience', /is required/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    auth:\n      - { type: jwt, secret: x, jwks: k.json, audience: a }\n', 5, 'routes[0].auth[0].jwks', /give one of/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    auth:\n      - { type: basic, users: u }\n      - { type: jwt, secret: x, audience: a }\n', 6, 'routes[0].auth[1].cookie', /must come in a cookie/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    auth:\n      - { type: cert, subjects: [a] }\n      - { type: cert, subjects: [b] }\n', 6, 'routes[0].auth[1].type', /a second "cert" check/);
  await assertError('routes:\n  - path: /a\n    handler: echo\n    rateLimit: { perAddress: 0 }\n', 4, 'routes[0].rateLimit.perAddress', /must be > 0/);
  await assertError('maxSessionsPerAddress: 0\nroutes: [{ path: /a, handler: echo }]\n', 1, 'maxSessionsPerAddress', /must be >= 1/);
});
