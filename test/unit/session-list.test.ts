// Who may read the session list: loopback clients only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback } from '../../src/observability/session-list.js';

test('isLoopback: 127.0.0.0/8, ::1 and their IPv4-mapped forms; nothing else', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
  for (const a of [undefined, '', '10.0.0.1', '192.168.1.127', '::ffff:10.0.0.1', '::2', 'fe80::1', '1270.0.0.1', '128.0.0.1', '127.0.0.1.evil']) {
    assert.equal(isLoopback(a), false, String(a));
  }
});
