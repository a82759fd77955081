// Pure pieces of the upgrade path: base64 codec, subprotocol choice,
// the RFC 6455 request checks, and /etc/services parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { chooseSubprotocol, decodeBase64 } from '../../src/proxy/codec.js';
import { checkHandshake, offeredProtocols } from '../../src/server/handshake.js';
import { lookupService, parseServices } from '../../src/proxy/services.js';

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

/** A fake upgrade request: only method and (lower-cased) headers are read. */
function req(headers: Record<string, string | undefined> = {}, method = 'GET'): IncomingMessage {
  const h: Record<string, string> = {
    host: '127.0.0.1',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
  };
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete h[k];
    else h[k] = v;
  }
  return { method, headers: h } as unknown as IncomingMessage;
}

test('checkHandshake: a valid request passes (version 13 and 8, Upgrade case-insensitive)', { timeout: 5000 }, () => {
  assert.equal(checkHandshake(req()), null);
  assert.equal(checkHandshake(req({ 'sec-websocket-version': '8' })), null);
  assert.equal(checkHandshake(req({ upgrade: 'WebSocket' })), null);
  assert.equal(checkHandshake(req({ 'sec-websocket-protocol': 'binary, base64' })), null);
});

test('checkHandshake: wrong method → 405 with Allow: GET', { timeout: 5000 }, () => {
  const p = checkHandshake(req({}, 'POST'));
  assert.equal(p?.status, 405);
  assert.equal(p?.headers?.Allow, 'GET');
});

test('checkHandshake: missing or wrong Upgrade header → 400', { timeout: 5000 }, () => {
  assert.equal(checkHandshake(req({ upgrade: undefined }))?.status, 400);
  assert.equal(checkHandshake(req({ upgrade: 'h2c' }))?.status, 400);
});

test('checkHandshake: Sec-WebSocket-Key must be 16 bytes of base64 → else 400', { timeout: 5000 }, () => {
  assert.equal(checkHandshake(req({ 'sec-websocket-key': 'AAAAAAAAAAAAAAAAAAAAAA==' })), null);
  for (const bad of [undefined, '', 'abc', 'dGhlIHNhbXBsZSBub25jZQ=', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ==x', 'dGhlIHNhbXBsZSBub25j*Q==', 'dGhlIHNhbXBsZSBub25jZQAA==']) {
    const p = checkHandshake(req({ 'sec-websocket-key': bad }));
    assert.equal(p?.status, 400, `key ${JSON.stringify(bad)}`);
    assert.match(p!.reason, /Sec-WebSocket-Key/);
  }
});

test('checkHandshake: other versions → 426 advertising 13, 8', { timeout: 5000 }, () => {
  for (const v of ['7', '14', '', undefined, '13, 8']) {
    const p = checkHandshake(req({ 'sec-websocket-version': v }));
    assert.equal(p?.status, 426, `version ${JSON.stringify(v)}`);
    assert.equal(p?.headers?.['Sec-WebSocket-Version'], '13, 8');
  }
});

test('checkHandshake: malformed or duplicate protocol list → 400', { timeout: 5000 }, () => {
  for (const bad of ['binary,,base64', 'binary, binary', 'bin ary', ',binary', 'binary,', 'a/b', '"binary"', '']) {
    const p = checkHandshake(req({ 'sec-websocket-protocol': bad }));
    assert.equal(p?.status, 400, `protocols ${JSON.stringify(bad)}`);
    assert.match(p!.reason, /Sec-WebSocket-Protocol/);
  }
});

test('offeredProtocols: list in client order, trimmed; [] when absent; null when malformed', { timeout: 5000 }, () => {
  assert.deepEqual(offeredProtocols(req()), []);
  assert.deepEqual(offeredProtocols(req({ 'sec-websocket-protocol': 'base64' })), ['base64']);
  assert.deepEqual(offeredProtocols(req({ 'sec-websocket-protocol': 'base64 ,  binary' })), ['base64', 'binary']);
  assert.deepEqual(offeredProtocols(req({ 'sec-websocket-protocol': 'v1.chat,x-foo_bar' })), ['v1.chat', 'x-foo_bar']);
  assert.equal(offeredProtocols(req({ 'sec-websocket-protocol': 'binary,binary' })), null);
  assert.equal(offeredProtocols(req({ 'sec-websocket-protocol': 'binary;q=1' })), null);
});

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
