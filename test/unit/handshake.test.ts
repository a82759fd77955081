// src/server/handshake.ts: the RFC 6455 checks of an upgrade request and the offered subprotocols.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { checkHandshake, offeredProtocols } from '../../src/server/handshake.js';

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
