// The small value languages of config and CLI: sizes and seconds (host:port: host-port.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigValueError, parseSeconds, parseSize } from '../../src/config/units.js';

test('parseSize: integers are bytes', { timeout: 5000 }, () => {
  assert.equal(parseSize(0), 0);
  assert.equal(parseSize(1), 1);
  assert.equal(parseSize(1048576), 1048576);
  assert.equal(parseSize('4096'), 4096);
});

test('parseSize: unit strings (binary and decimal, spaces, case)', { timeout: 5000 }, () => {
  assert.equal(parseSize('16KiB'), 16 * 1024);
  assert.equal(parseSize('32 MiB'), 32 * 1024 * 1024);
  assert.equal(parseSize('1.5MB'), 1_500_000);
  assert.equal(parseSize('2kb'), 2000);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize(' 3 mib '), 3 * 1024 * 1024);
  assert.equal(parseSize('10B'), 10);
});

test('parseSize: bad values throw ConfigValueError', { timeout: 5000 }, () => {
  for (const bad of [-1, 1.5, Number.NaN, Infinity, '', 'abc', '12 parsecs', '-3KiB', '1.5.5MB', '1e6', 'MiB', null, undefined, true, {}, [1]]) {
    assert.throws(() => parseSize(bad), ConfigValueError, `parseSize(${String(bad)}) should throw`);
  }
  assert.throws(() => parseSize('12 parsecs'), /byte count.*"12 parsecs"/);
});

test('parseSeconds: seconds in, milliseconds out; numbers and numeric strings', { timeout: 5000 }, () => {
  assert.equal(parseSeconds(0), 0);
  assert.equal(parseSeconds(1), 1000);
  assert.equal(parseSeconds(0.5), 500);
  assert.equal(parseSeconds(30), 30_000);
  assert.equal(parseSeconds('2'), 2000);
  assert.equal(parseSeconds(' 0.25 '), 250);
  assert.equal(parseSeconds('1.5'), 1500);
});

test('parseSeconds: negatives and non-numbers are refused', { timeout: 5000 }, () => {
  for (const bad of [-1, -0.001, '-1', '', '  ', 'abc', '1s', Number.NaN, Infinity, '-Infinity', null, undefined, true, {}]) {
    assert.throws(() => parseSeconds(bad), ConfigValueError, `parseSeconds(${JSON.stringify(bad)}) should throw`);
  }
  assert.throws(() => parseSeconds(-2), /seconds >= 0.*-2/);
});
