// Every size is checked against what the layer below can hold: `ws` keeps the
// message limit as a 32-bit signed integer, so 2 GiB and more used to wrap
// round (4 GiB became 0, "no limit") without a word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config/build.js';
import { ConfigError } from '../../src/config/errors.js';
import { runCli } from '../support/index.js';

const build = (defaults: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  buildConfig({ listen: '127.0.0.1:0', defaults, routes: [{ path: '/e', handler: 'echo' }], ...top }, () => undefined, process.cwd());

test('maxMessageSize: 1 byte up to 2 GiB - 1 is accepted as given', () => {
  assert.equal(build({ maxMessageSize: 1 }).routes[0]!.maxMessageSize, 1);
  assert.equal(build({ maxMessageSize: 2 ** 31 - 1 }).routes[0]!.maxMessageSize, 2 ** 31 - 1);
  assert.equal(build({ maxMessageSize: '2047MiB' }).routes[0]!.maxMessageSize, 2047 * 1024 * 1024);
});

test('maxMessageSize: 0, 2 GiB, 3 GiB and 4 GiB are refused with the reason', () => {
  for (const value of [0, '2GiB', '3GiB', '4GiB', 2 ** 31]) {
    assert.throws(() => build({ maxMessageSize: value }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /defaults\.maxMessageSize: must be between 1 and 2147483647 bytes: the WebSocket layer holds it as a 32-bit signed integer/);
      return true;
    }, String(value));
  }
});

test('highWaterMark must hold a byte; maxHeaderSize has a floor and a ceiling', () => {
  assert.throws(() => build({ highWaterMark: 0 }), /highWaterMark: must be between 1 and/);
  assert.throws(() => build({}, { maxHeaderSize: 100 }), /maxHeaderSize: must be between 1024 and/);
  assert.throws(() => build({}, { maxHeaderSize: '3GiB' }), /maxHeaderSize: must be between 1024 and/);
  assert.equal(build({}, { maxHeaderSize: '64KiB' }).maxHeaderSize, 65536);
});

test('--max-message-size 4GiB on the command line stops startup with exit 2', async () => {
  const r = await runCli(['--max-message-size', '4GiB', '127.0.0.1:0', '127.0.0.1:9']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--max-message-size: .*must be between 1 and 2147483647 bytes/);
});
