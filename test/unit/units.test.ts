// The small value languages of config and CLI: sizes, seconds, host:port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigValueError, parseHostPort, parseSeconds, parseSize } from '../../src/config/units.js';

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

test('parseHostPort: host:port and [v6]:port', { timeout: 5000 }, () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseHostPort('localhost:5901'), { host: 'localhost', port: 5901 });
  assert.deepEqual(parseHostPort('[::1]:5900'), { host: '::1', port: 5900 });
  assert.deepEqual(parseHostPort('[fe80::1%eth0]:22'), { host: 'fe80::1%eth0', port: 22 });
  assert.deepEqual(parseHostPort(' example.org:443 '), { host: 'example.org', port: 443 });
});

test('parseHostPort: a bare port needs hostOptional', { timeout: 5000 }, () => {
  assert.deepEqual(parseHostPort('8080', { hostOptional: true }), { host: undefined, port: 8080 });
  assert.deepEqual(parseHostPort(':8080', { hostOptional: true }), { host: undefined, port: 8080 });
  assert.throws(() => parseHostPort('8080'), ConfigValueError);
  assert.throws(() => parseHostPort(':8080'), ConfigValueError);
});

test('parseHostPort: IPv6 without brackets is refused, with a hint', { timeout: 5000 }, () => {
  assert.throws(() => parseHostPort('::1:5900'), (e: Error) => e instanceof ConfigValueError && /brackets/.test(e.message));
  assert.throws(() => parseHostPort('fe80::1:22', { hostOptional: true }), ConfigValueError);
  assert.throws(() => parseHostPort('[::1]5900'), ConfigValueError);
  assert.throws(() => parseHostPort('[::1'), ConfigValueError);
});

test('parseHostPort: service names are kept as strings', { timeout: 5000 }, () => {
  assert.deepEqual(parseHostPort('127.0.0.1:echo'), { host: '127.0.0.1', port: 'echo' });
  assert.deepEqual(parseHostPort('vnc.example:vnc-server'), { host: 'vnc.example', port: 'vnc-server' });
  assert.deepEqual(parseHostPort('[::1]:ssh'), { host: '::1', port: 'ssh' });
});

test('parseHostPort: ports out of range or malformed are refused', { timeout: 5000 }, () => {
  assert.deepEqual(parseHostPort('h:65535'), { host: 'h', port: 65535 });
  for (const bad of ['h:65536', 'h:70000', 'h:99999999999', '[::1]:65536', 'h:', 'h:-1', 'h:12ab!', 'h:5 900']) {
    assert.throws(() => parseHostPort(bad), ConfigValueError, `parseHostPort(${bad}) should throw`);
  }
  assert.throws(() => parseHostPort('70000', { hostOptional: true }), /out of range/);
});
