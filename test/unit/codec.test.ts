// src/proxy/codec.ts: the base64 codec and the subprotocol choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSubprotocol, decodeBase64 } from '../../src/proxy/codec.js';

const SERVED = ['binary', 'base64'];

test('decodeBase64: valid padded base64 decodes', { timeout: 5000 }, () => {
  assert.equal(decodeBase64(Buffer.from('aGVsbG8='))?.toString(), 'hello');
  assert.equal(decodeBase64(Buffer.from('aGk='))?.toString(), 'hi');
  assert.equal(decodeBase64(Buffer.from('YWJj'))?.toString(), 'abc');
  assert.deepEqual([...decodeBase64(Buffer.from('AP8r/w=='))!], [0x00, 0xff, 0x2b, 0xff]);
});

test('decodeBase64: empty message is zero bytes, not an error', { timeout: 5000 }, () => {
  const out = decodeBase64(Buffer.alloc(0));
  assert.ok(out);
  assert.equal(out.length, 0);
});

test('decodeBase64: invalid or unpadded input is null', { timeout: 5000 }, () => {
  for (const bad of ['aGVsbG8', 'aGk', 'aGVsbG8*', 'aGVs bG8=', 'a===', '=aGk', 'aG=k', 'aGVsbG8=\n', 'aGVsbG8-', 'aGVs_G8=']) {
    assert.equal(decodeBase64(Buffer.from(bad)), null, `decodeBase64(${JSON.stringify(bad)}) should be null`);
  }
});

test('chooseSubprotocol: a client that offers none gets binary without a protocol', { timeout: 5000 }, () => {
  const c = chooseSubprotocol([], SERVED);
  assert.deepEqual(c, { encoding: 'binary' });
  assert.equal(c?.protocol, undefined);
});

test('chooseSubprotocol: server order wins (binary before base64)', { timeout: 5000 }, () => {
  assert.deepEqual(chooseSubprotocol(['base64', 'binary'], SERVED), { protocol: 'binary', encoding: 'binary' });
  assert.deepEqual(chooseSubprotocol(['binary', 'base64'], SERVED), { protocol: 'binary', encoding: 'binary' });
  assert.deepEqual(chooseSubprotocol(['base64', 'binary'], ['base64', 'binary']), { protocol: 'base64', encoding: 'base64' });
});

test('chooseSubprotocol: only base64 offered → base64; only unknown → null', { timeout: 5000 }, () => {
  assert.deepEqual(chooseSubprotocol(['base64'], SERVED), { protocol: 'base64', encoding: 'base64' });
  assert.deepEqual(chooseSubprotocol(['chat', 'base64'], SERVED), { protocol: 'base64', encoding: 'base64' });
  assert.equal(chooseSubprotocol(['chat'], SERVED), null);
  assert.equal(chooseSubprotocol(['chat', 'guacamole'], SERVED), null);
  assert.equal(chooseSubprotocol(['base64'], ['binary']), null);
});
