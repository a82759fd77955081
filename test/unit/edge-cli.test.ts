// The edge-policy options of the websockify form (src/cli/args.ts,
// auth-plugins.ts): what config each gives, and the usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/cli/args.js';
import { ConfigError } from '../../src/config/errors.js';
import type { GatewayConfig } from '../../src/config/types.js';

function config(...args: string[]): GatewayConfig {
  const c = parseCommandLine([...args, '127.0.0.1:6080', '127.0.0.1:5900']);
  assert.equal(c.kind, 'run');
  return (c as { config: GatewayConfig }).config;
}

const refused = (args: string[], message: RegExp) =>
  assert.throws(() => parseCommandLine(args), (e: Error) => e instanceof ConfigError && message.test(e.message), args.join(' '));

test('--origin, --origin-required, --refuse, --max-sessions-per-address, --rate-limit', () => {
  const route = (c: GatewayConfig) => c.routes[0]!.policy;
  assert.deepEqual(route(config()).origin, { kind: 'same-host' });
  assert.equal(route(config()).refuse, 'auto');
  assert.deepEqual(route(config('--origin', 'off')).origin, { kind: 'off' });
  assert.deepEqual(route(config('--origin', 'https://a.example,https://*.b.example')).origin, {
    kind: 'list',
    origins: [
      { scheme: 'https:', host: 'a.example', port: '', subdomains: false },
      { scheme: 'https:', host: 'b.example', port: '', subdomains: true },
    ],
  });
  assert.equal(route(config('--origin-required')).originRequired, true);
  assert.equal(route(config('--refuse', 'http')).refuse, 'http');
  const c = config('--max-sessions-per-address', '4', '--rate-limit', '2/6');
  assert.equal(c.maxSessionsPerAddress, 4);
  assert.deepEqual(c.rateLimit, { perAddress: 2, burst: 6 });
  assert.deepEqual(config('--rate-limit', '0.5').rateLimit, { perAddress: 0.5, burst: 1 });
});

test("websockify's auth plugins: BasicHTTPAuth, ExpectOrigin (requires an Origin), ClientCertCNAuth, with or without the module prefix", () => {
  assert.deepEqual(config('--auth-plugin', 'BasicHTTPAuth', '--auth-source', 'al:pa:ss').routes[0]!.policy.auth, [
    { type: 'basic', realm: 'wsgate', cacheTtl: 60_000, user: 'al', password: 'pa:ss' },
  ]);
  const expect = config('--auth-plugin', 'websockify.auth_plugins.ExpectOrigin', '--auth-source', 'https://a.example http://b.example:8080').routes[0]!.policy;
  assert.equal(expect.originRequired, true);
  assert.deepEqual(expect.origin, {
    kind: 'list',
    origins: [
      { scheme: 'https:', host: 'a.example', port: '', subdomains: false },
      { scheme: 'http:', host: 'b.example', port: '8080', subdomains: false },
    ],
  });
  assert.deepEqual(config('--auth-plugin', 'ClientCertCNAuth', '--auth-source', ' alice  bob ').routes[0]!.policy.auth, [{ type: 'cert', subjects: ['alice', 'bob'] }]);
});

test('edge-policy usage errors', () => {
  const target = ['127.0.0.1:6080', '127.0.0.1:5900'];
  refused(['--origin', 'nonsense', ...target], /--origin: .*"nonsense" is not an origin/);
  refused(['--refuse', 'sometimes', ...target], /--refuse: .*must be one of/);
  refused(['--rate-limit', 'fast', ...target], /--rate-limit: "fast" is not N or N\/BURST/);
  refused(['--rate-limit', '0', ...target], /--rate-limit: .*must be > 0/);
  refused(['--max-sessions-per-address', '0', ...target], /--max-sessions-per-address: .*must be >= 1/);
  refused(['--auth-plugin', 'TokenAuth', ...target], /--auth-plugin TokenAuth: unknown/);
  refused(['--auth-plugin', 'BasicHTTPAuth', ...target], /needs --auth-source/);
  refused(['--auth-plugin', 'BasicHTTPAuth', '--auth-source', 'nocolon', ...target], /user:password/);
  refused(['--auth-source', 'x', ...target], /--auth-source needs --auth-plugin/);
  refused(['--origin', 'off', '--auth-plugin', 'ExpectOrigin', '--auth-source', 'https://a.example', ...target], /either --origin or --auth-plugin ExpectOrigin/);
  refused(['--config', 'x.yaml', '--origin', 'off'], /with --config, set the edge policy .* instead of --origin/);
});
