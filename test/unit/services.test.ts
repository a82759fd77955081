// src/proxy/services.ts: service names to ports, as /etc/services gives them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupService, parseServices } from '../../src/proxy/services.js';

const SAMPLE = `# /etc/services sample
tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer
echo\t\t7/tcp
echo\t\t7/udp
discard\t\t9/tcp\t\tsink null
syslog\t\t514/udp
ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol
   # indented comment 99/tcp
vnc-server\t5900/tcp\tvnc
echo\t\t4/ddp\t\t\t# AppleTalk Echo Protocol
ssh\t\t2222/tcp
broken-line
`;

test('parseServices: tcp entries and aliases; comments, udp and others ignored', { timeout: 5000 }, () => {
  const m = parseServices(SAMPLE);
  assert.equal(m.get('tcpmux'), 1);
  assert.equal(m.get('echo'), 7);
  assert.equal(m.get('discard'), 9);
  assert.equal(m.get('sink'), 9);
  assert.equal(m.get('null'), 9);
  assert.equal(m.get('vnc-server'), 5900);
  assert.equal(m.get('vnc'), 5900);
  assert.equal(m.get('ssh'), 22, 'the first entry of a name wins');
  assert.equal(m.has('syslog'), false, 'udp only');
  assert.equal(m.has('#'), false);
  assert.equal(m.has('TCP'), false);
  assert.equal(m.has('indented'), false);
  assert.equal(m.has('broken-line'), false);
  assert.deepEqual([...m.keys()].sort(), ['discard', 'echo', 'null', 'sink', 'ssh', 'tcpmux', 'vnc', 'vnc-server']);
});

test("lookupService('echo') is 7; unknown names are undefined", { timeout: 5000 }, () => {
  assert.equal(lookupService('echo'), 7);
  assert.equal(lookupService('no-such-service-xyz'), undefined);
});
