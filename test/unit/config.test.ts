// The YAML config file: the design.md §4 example, defaults, units, and
// errors that name FILE:LINE and the field.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/file.js';
import { ConfigError } from '../../src/config/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { Gateway } from '../../src/server/gateway.js';
import { tempDir } from '../support/index.js';

const dir = tempDir(after, 'config');

let n = 0;
async function file(text: string): Promise<string> {
  const path = join(dir, `config-${++n}.yaml`);
  await writeFile(path, text);
  return path;
}

/** Asserts that loading `text` throws a ConfigError at FILE:LINE naming `field`, with `detail`. */
async function assertLoadError(text: string, line: number, field: string, detail: RegExp): Promise<void> {
  const path = await file(text);
  assert.throws(
    () => loadConfigFile(path),
    (e: Error) => {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e.name}: ${e.message}`);
      assert.ok(e.message.startsWith(`${path}:${line}: `), `expected ${path}:${line}: in: ${e.message}`);
      assert.ok(e.message.includes(field), `expected field ${field} in: ${e.message}`);
      assert.match(e.message, detail);
      return true;
    },
  );
}

const MIB = 1024 * 1024;

const DESIGN_EXAMPLE = `listen: 127.0.0.1:8080
routes:
  - path: /echo
    handler: echo            # echoes every message back, same type
  - path: /threads
    handler: threads         # the concurrency demo, below
  - path: /vnc
    handler: tcp-proxy
    target: 127.0.0.1:5901
`;

test('the design.md §4 example loads, and its handlers start', { timeout: 10_000 }, async () => {
  const config = loadConfigFile(await file(DESIGN_EXAMPLE));
  assert.deepEqual(config.listen, [{ host: '127.0.0.1', port: 8080 }]);
  assert.deepEqual(
    config.routes.map((r) => [r.path, r.handler]),
    [['/echo', 'echo'], ['/threads', 'threads'], ['/vnc', 'tcp-proxy']],
  );
  assert.deepEqual(config.routes[2]!.options, { target: '127.0.0.1:5901' });
  assert.deepEqual(config.routes[0]!.options, {});
  assert.equal(config.baseDir, dir);
  // Every handler accepts its route (on an ephemeral port rather than 8080).
  config.listen = [{ host: '127.0.0.1', port: 0 }];
  const gw = new Gateway(config, createLogger('silent'));
  try {
    const [addr] = await gw.start();
    assert.ok(addr!.port > 0);
  } finally {
    await gw.stop(0);
  }
});

test('defaults: 32 MiB messages, no deflate, 1 MiB high-water mark, no idle timeout', { timeout: 5000 }, async () => {
  const config = loadConfigFile(await file('routes:\n  - path: /e\n    handler: echo\n'));
  const r = config.routes[0]!;
  assert.equal(r.maxMessageSize, 32 * MIB);
  assert.equal(r.perMessageDeflate, false);
  assert.equal(r.highWaterMark, MIB);
  assert.equal(r.lowWaterMark, MIB / 4);
  assert.equal(r.idleTimeout, 0);
  assert.equal(r.heartbeat, 0);
  assert.equal(r.closeTimeout, 5000);
  assert.deepEqual(config.listen, [{ host: undefined, port: 8080 }]);
  assert.equal(config.healthPath, '/healthz');
  assert.equal(config.gracePeriod, 3000);
});

test('a defaults: block applies to every route; a route overrides it; sizes as strings', { timeout: 5000 }, async () => {
  const config = loadConfigFile(
    await file(`defaults:
  maxMessageSize: 64KiB
  highWaterMark: "2 MiB"
  perMessageDeflate: true
  idleTimeout: 30
  heartbeat: 2.5
routes:
  - path: /a
    handler: echo
  - path: /b
    handler: echo
    maxMessageSize: 1.5MB
    idleTimeout: 0
    perMessageDeflate: false
    highWaterMark: 65536
    lowWaterMark: 1000
  - path: /c
    handler: echo
    highWaterMark: 64KiB
`),
  );
  const [a, b, c] = config.routes;
  assert.deepEqual(
    [a!.maxMessageSize, a!.highWaterMark, a!.lowWaterMark, a!.perMessageDeflate, a!.idleTimeout, a!.heartbeat],
    [64 * 1024, 2 * MIB, MIB / 4, true, 30_000, 2500],
  );
  assert.deepEqual(
    [b!.maxMessageSize, b!.highWaterMark, b!.lowWaterMark, b!.perMessageDeflate, b!.idleTimeout, b!.heartbeat],
    [1_500_000, 65536, 1000, false, 0, 2500],
  );
  // A low-water mark nobody set follows a smaller high-water mark down.
  assert.equal(c!.highWaterMark, 64 * 1024);
  assert.equal(c!.lowWaterMark, 16 * 1024);
  assert.equal(c!.maxMessageSize, 64 * 1024);
});

test('an explicit defaults.lowWaterMark is inherited by a route that only sets highWaterMark', { timeout: 5000 }, async () => {
  const config = loadConfigFile(
    await file(`defaults:
  lowWaterMark: 100KiB
routes:
  - path: /a
    handler: echo
    highWaterMark: 200KiB
`),
  );
  // 100 KiB <= 200 KiB is valid; the user's explicit default must not be replaced by 200 KiB / 4.
  assert.equal(config.routes[0]!.lowWaterMark, 100 * 1024);
});

test('traffic: true is --traffic (trace level); an explicit logLevel wins, as --log-level does', { timeout: 5000 }, async () => {
  const routes = 'routes:\n  - path: /a\n    handler: echo\n';
  assert.equal(loadConfigFile(await file(routes)).logLevel, 'info');
  assert.equal(loadConfigFile(await file(`traffic: true\n${routes}`)).logLevel, 'trace');
  assert.equal(loadConfigFile(await file(`traffic: false\n${routes}`)).logLevel, 'info');
  assert.equal(loadConfigFile(await file(`traffic: true\nlogLevel: debug\n${routes}`)).logLevel, 'debug');
});

test('error: unknown top-level field names FILE:LINE and the field', { timeout: 5000 }, async () => {
  await assertLoadError('listen: 127.0.0.1:0\ngracePeriod: 1\nrouts: []\nroutes:\n  - path: /e\n    handler: echo\n', 3, 'routs', /unknown field/);
});

test('error: unknown field in defaults', { timeout: 5000 }, async () => {
  await assertLoadError('defaults:\n  maxMesageSize: 1KiB\nroutes:\n  - path: /e\n    handler: echo\n', 2, 'defaults.maxMesageSize', /unknown field/);
});

test('error: unknown route field (found when the handler is created)', { timeout: 10_000 }, async () => {
  const path = await file(`listen: 127.0.0.1:0
routes:
  - path: /e
    handler: echo
  - path: /p
    handler: tcp-proxy
    taget: 127.0.0.1:5900
`);
  const config = loadConfigFile(path);
  const gw = new Gateway(config, createLogger('silent'));
  try {
    await assert.rejects(gw.start(), (e: Error) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.message.includes(`${path}:7: `), e.message);
      assert.match(e.message, /routes\[1\]\.taget: unknown field/);
      return true;
    });
  } finally {
    await gw.stop(0);
  }
});

test('error: missing routes, empty routes', { timeout: 5000 }, async () => {
  await assertLoadError('listen: 127.0.0.1:0\ngracePeriod: 1\n', 1, 'routes', /is required/);
  await assertLoadError('listen: 127.0.0.1:0\nroutes: []\n', 2, 'routes', /fewer than 1/);
});

test('error: a route without handler or with a bad path', { timeout: 5000 }, async () => {
  await assertLoadError('routes:\n  - path: /a\n    handler: echo\n  - path: /b\n    maxMessageSize: 1\n', 4, 'routes[1].handler', /is required/);
  await assertLoadError('routes:\n  - path: /a\n    handler: echo\n  - path: b\n    handler: echo\n', 4, 'routes[1].path', /pattern/);
});

test('error: duplicate path names the later route', { timeout: 5000 }, async () => {
  await assertLoadError(
    'routes:\n  - path: /a\n    handler: echo\n  - path: /b\n    handler: echo\n  - path: /a\n    handler: threads\n',
    6,
    'routes[2].path',
    /"\/a" is used by an earlier route/,
  );
});

test('error: invalid YAML names the line', { timeout: 5000 }, async () => {
  await assertLoadError('listen: 127.0.0.1:0\nroutes:\n  - path: /a\n    handler: echo\n    handler: threads\n', 5, 'invalid YAML', /unique/);
  await assertLoadError('listen: 127.0.0.1:0\nroutes:\n  - path: /a\n\thandler: echo\n', 4, 'invalid YAML', /[Tt]ab/);
});

test('error: lowWaterMark above highWaterMark', { timeout: 5000 }, async () => {
  await assertLoadError(
    'routes:\n  - path: /a\n    handler: echo\n  - path: /b\n    handler: echo\n    highWaterMark: 64KiB\n    lowWaterMark: 128KiB\n',
    7,
    'routes[1].lowWaterMark',
    /must not exceed highWaterMark \(65536\)/,
  );
});

test('error: bad sizes, seconds and listen address name the field', { timeout: 5000 }, async () => {
  const routes = 'routes:\n  - path: /a\n    handler: echo\n  - path: /b\n    handler: echo\n';
  await assertLoadError(`${routes}    maxMessageSize: 12 parsecs\n`, 6, 'routes[1].maxMessageSize', /byte count/);
  await assertLoadError(`${routes}    maxMessageSize: -5\n`, 6, 'routes[1].maxMessageSize', />= 0|wrong type/);
  await assertLoadError(`${routes}    idleTimeout: -1\n`, 6, 'routes[1].idleTimeout', />= 0/);
  await assertLoadError(`listen: 127.0.0.1:99999\n${routes}`, 1, 'listen', /out of range/);
  await assertLoadError(`logLevel: loud\n${routes}`, 1, 'logLevel', /must be one of/);
});

test('error: an unreadable file is named', { timeout: 5000 }, () => {
  const path = join(dir, 'does-not-exist.yaml');
  assert.throws(() => loadConfigFile(path), (e: Error) => e instanceof ConfigError && e.message.startsWith(`${path}: cannot read`));
});
