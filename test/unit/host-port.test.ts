// host:port (src/config/host-port.ts): one parser and one formatter for the
// config, the CLI, token files, store values, `wsgate tokens add` and
// allowlists, with one IPv6 rule: "[::1]:5900" always, "::1:5900" where a
// port is required, brackets where it may be left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigValueError } from '../../src/config/units.js';
import { formatHostPort, parseHostPort, parseTarget, splitHostPort } from '../../src/config/host-port.js';
import { parseTokenFiles } from '../../src/proxy/resolvers/token-file.js';
import { targetFromJson, targetFromText } from '../../src/proxy/resolvers/websockify-values.js';
import { TargetPolicy } from '../../src/proxy/target-policy.js';

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

test('parseHostPort: a bare IPv6 host takes the port after its last colon; other hosts with colons are refused', { timeout: 5000 }, () => {
  // Accepted since host:port has one rule everywhere (the token file always took this form).
  assert.deepEqual(parseHostPort('::1:5900'), { host: '::1', port: 5900 });
  assert.deepEqual(parseHostPort('fe80::1:22', { hostOptional: true }), { host: 'fe80::1', port: 22 });
  assert.deepEqual(parseHostPort('fe80::1%eth0:ssh'), { host: 'fe80::1%eth0', port: 'ssh' });
  assert.throws(() => parseHostPort('a:b:5900'), (e: Error) => e instanceof ConfigValueError && /IPv6.*\[::1\]:5900/.test(e.message));
  assert.throws(() => parseHostPort('[::1]5900'), ConfigValueError);
  assert.throws(() => parseHostPort('[::1'), ConfigValueError);
  assert.throws(() => parseHostPort('[]:5900'), ConfigValueError);
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

test('parseTarget: the stores\' form, a port number 1..65535, IPv6 bracketed or bare', { timeout: 5000 }, () => {
  assert.deepEqual(parseTarget('127.0.0.1:5901'), { host: '127.0.0.1', port: 5901 });
  assert.deepEqual(parseTarget(' vnc.example.org:5904 '), { host: 'vnc.example.org', port: 5904 });
  assert.deepEqual(parseTarget('[::1]:5902'), { host: '::1', port: 5902 });
  assert.deepEqual(parseTarget('::1:5903'), { host: '::1', port: 5903 });
  assert.deepEqual(parseTarget('2001:db8::7:5900'), { host: '2001:db8::7', port: 5900 });
  assert.throws(() => parseTarget('127.0.0.1'), /expected host:port/);
  assert.throws(() => parseTarget('h:0'), /bad port "0": out of range 1\.\.65535/);
  assert.throws(() => parseTarget('h:70000'), /bad port "70000"/);
  assert.throws(() => parseTarget('h:vnc'), /bad port "vnc": not a number/);
  assert.throws(() => parseTarget(':5900'), /has no host/);
  assert.throws(() => parseTarget('a b:5900'), /bad host/);
  assert.throws(() => parseTarget('a:b:5900'), /IPv6/);
});

test('formatHostPort: IPv6 in brackets, so that parsing the text gives the same host and port back', { timeout: 5000 }, () => {
  assert.equal(formatHostPort('127.0.0.1', 5900), '127.0.0.1:5900');
  assert.equal(formatHostPort('vnc.example', 'vnc-server'), 'vnc.example:vnc-server');
  assert.equal(formatHostPort('::1', 5900), '[::1]:5900');
  assert.equal(formatHostPort('fe80::1%eth0', 22), '[fe80::1%eth0]:22');
  for (const [host, port] of [['10.0.0.1', 1], ['::1', 5900], ['2001:db8::7', 65535], ['h.example', 80]] as const) {
    assert.deepEqual(parseTarget(formatHostPort(host, port)), { host, port });
  }
});

test('splitHostPort: with the port optional, a bare IPv6 address is refused (its last group could be a port)', { timeout: 5000 }, () => {
  assert.deepEqual(splitHostPort('[::1]', { portOptional: true }), { host: '::1', port: undefined });
  assert.deepEqual(splitHostPort('[::1]:5900-5999', { portOptional: true }), { host: '::1', port: '5900-5999' });
  assert.deepEqual(splitHostPort('10.0.0.0/8', { portOptional: true }), { host: '10.0.0.0/8', port: undefined });
  assert.throws(() => splitHostPort('::1', { portOptional: true }), /brackets/);
  assert.throws(() => splitHostPort('2001:db8::1:5900', { portOptional: true }), /brackets/);
});

test('the token file, store values and allowlists read host:port by the same rule', { timeout: 5000 }, () => {
  const table = parseTokenFiles([{ file: 't', text: 'a: [::1]:5900\nb: ::1:5901\nc: 127.0.0.1:5902\n' }]);
  assert.deepEqual([...table], [['a', { host: '::1', port: 5900 }], ['b', { host: '::1', port: 5901 }], ['c', { host: '127.0.0.1', port: 5902 }]]);
  assert.throws(() => parseTokenFiles([{ file: 't', text: 'a: a:b:5900\n' }]), /t line 1: .*IPv6/);
  assert.deepEqual(targetFromText('::1:5903'), { host: '::1', port: 5903, params: {} });
  assert.deepEqual(targetFromText('[::1]:5903'), { host: '::1', port: 5903, params: {} });
  assert.equal(targetFromText('::1'), null);
  assert.deepEqual(targetFromJson({ host: '::1:5904', extra: 'x' }), { host: '::1', port: 5904, params: { host: '::1', port: '5904', extra: 'x' } });
  const policy = new TargetPolicy(['[::1]:5900-5901', '10.0.0.0/8', 'vnc-*.example.com:5900']);
  assert.equal(policy.allows('::1', 5901), true);
  assert.equal(policy.allows('::1', 5902), false);
  assert.equal(policy.allows('10.1.2.3', 22), true);
  assert.equal(policy.allows('vnc-7.example.com', 5900), true);
  assert.throws(() => new TargetPolicy(['::1:5900']), /brackets/);
  assert.throws(() => new TargetPolicy(['h:5900:']), /HOST\[:PORT\[-PORT\]\]/);
  assert.throws(() => new TargetPolicy(['h:9-3']), /bad port range/);
});
