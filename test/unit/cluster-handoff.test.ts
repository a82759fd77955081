// The hand-off's codecs without sockets: a version 1 example worked out by
// hand, the version 2 example of docs/cluster-handoff.md byte for byte,
// framing limits, the proxy's verdicts (tampering, other nonce, stale
// timestamps) and a secret that never prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { join } from 'node:path';
import { FrameCollector, GATEWAY_MAGIC, HandoffError, PROXY_MAGIC, encodeFrame } from '../../src/proxy/cluster-handoff/frame.js';
import { Secret } from '../../src/proxy/cluster-handoff/secret.js';
import { encodeV1Document, escapeXml, isXmlName, parseV1Document, v1Hash, v1HashText, v1Nonce, verifyV1 } from '../../src/proxy/cluster-handoff/v1.js';
import { MacError, RESULT, decodeResult, encodeResult, encodeV2Document, verifyV2Document } from '../../src/proxy/cluster-handoff/v2.js';
import { HandoffRefusal, encodeGreeting, newNonce, verifyDocument } from '../../src/proxy/cluster-handoff/proxy-side.js';
import { REPO_ROOT, sha256 } from '../support/index.js';

const secret = (text: string) => new Secret(Buffer.from(text));

test('v1, worked by hand: hash text, hash and the exact bytes of the document frame', { timeout: 5000 }, () => {
  // The greeting's nonce ends at its first whitespace byte: "\r\n" is not part of it.
  const nonce = v1Nonce(Buffer.from('0123456789abcdef\r\n'));
  assert.equal(nonce.toString(), '0123456789abcdef');
  const params = [['nodehost', '10.0.0.5'], ['nodeport', '5901'], ['note', 'a&b<c>']] as const;
  const text = 'abc123 s3cret 0123456789abcdef nodehost 10.0.0.5 nodeport 5901 note a&b<c>';
  assert.equal(v1HashText('abc123', secret('s3cret'), nonce, params).toString(), text);
  // printf '%s' "$text" | sha256sum
  const hash = 'e063ab138763106b68933b3b4607268d947f45a890ae1e98a7c8425c509bcf8e';
  assert.equal(sha256(text), hash);
  assert.equal(v1Hash('abc123', secret('s3cret'), nonce, params), hash);
  const xml =
    '<vncconnection><key>abc123</key><hash>' + hash + '</hash><params>' +
    '<nodehost>10.0.0.5</nodehost><nodeport>5901</nodeport><note>a&amp;b&lt;c&gt;</note>' +
    '</params></vncconnection>';
  assert.equal(xml.length, 225);
  const expected = Buffer.concat([Buffer.from('ab15ab1e000100e1', 'hex'), Buffer.from(xml)]);
  const frame = encodeFrame(GATEWAY_MAGIC, 1, encodeV1Document({ key: 'abc123', hash, params }));
  assert.equal(frame.toString('hex'), expected.toString('hex'));
  // And the proxy side reads it back, in order, unescaped, and verifies it.
  const doc = parseV1Document(Buffer.from(xml));
  assert.deepEqual(doc, { key: 'abc123', hash, params: params.map(([n, v]) => [n, v]) });
  assert.ok(verifyV1(doc, secret('s3cret'), nonce));
  assert.ok(!verifyV1(doc, secret('s3cret!'), nonce));
  assert.ok(!verifyV1({ ...doc, params: [['nodehost', '10.0.0.6'], ...doc.params.slice(1)] }, secret('s3cret'), nonce));
});

test('v1 parser: declaration, whitespace between elements, empty and self-closed elements, entities; refuses the rest', { timeout: 5000 }, () => {
  const hash = 'a'.repeat(64);
  const ok = parseV1Document(Buffer.from(`<?xml version="1.0"?>\n<vncconnection>\n <key>k</key>\n <hash>${hash}</hash>\n <params>\n  <a>x &quot;y&apos; &#65;&#x42;</a>\n  <b/>\n  <c></c>\n </params>\n</vncconnection>\n`));
  assert.deepEqual(ok.params, [['a', `x "y' AB`], ['b', ''], ['c', '']]);
  assert.deepEqual(parseV1Document(Buffer.from(`<vncconnection><key>k</key><hash>${hash}</hash><params/></vncconnection>`)).params, []);
  const bad = [
    `<vncconnection><key>k</key><hash>${hash.toUpperCase()}</hash><params></params></vncconnection>`,
    `<vncconnection><key>k</key><hash>${hash}</hash><params><a>1</a><a>2</a></params></vncconnection>`,
    `<vncconnection><key>k</key><hash>${hash}</hash><params><a>1</b></params></vncconnection>`,
    `<vncconnection><key>k</key><hash>${hash}</hash><params><a>x & y</a></params></vncconnection>`,
    `<vncconnection><key>k</key><hash>${hash}</hash><params><a>&nbsp;</a></params></vncconnection>`,
    `<vncconnection><key>k</key><hash>${hash}</hash><params><1a>x</1a></params></vncconnection>`,
    `<vncconnection><key>k</key><hash>${hash}</hash><params></params></vncconnection>trailing`,
    `<vncconnection><hash>${hash}</hash><params></params></vncconnection>`,
    `<vncconnection><key>k</key><hash>${hash}</hash><params><a>x`,
  ];
  for (const xml of bad) assert.throws(() => parseV1Document(Buffer.from(xml)), HandoffError, xml);
});

test('XML names and escaping', { timeout: 5000 }, () => {
  for (const name of ['nodehost', '_x', 'a-b.c', 'ns:tag', 'ключ', 'a\u00B7b']) assert.ok(isXmlName(name), name);
  for (const name of ['', '1a', '-a', 'a b', 'a<b', 'a>', 'a&b', 'a/b', 'a"b', '.a', 'a\u0000']) assert.ok(!isXmlName(name), JSON.stringify(name));
  assert.equal(escapeXml('<a href="x">&amp;</a>'), '&lt;a href="x"&gt;&amp;amp;&lt;/a&gt;');
});

// The example of docs/cluster-handoff.md; its bytes were also computed with Python's hmac module.
const V2_EXAMPLE = {
  secret: 'correct horse battery staple',
  nonce: '00112233445566778899aabbccddeeff',
  timestamp: 1700000000,
  key: 'abc123',
  params: [['nodehost', '10.0.0.5'], ['nodeport', '5901']] as const,
  hex:
    'ab15ab1e00020056000000006553f1000006616263313233000200086e6f6465686f7374000831302e302e302e35' +
    '00086e6f6465706f7274000435393031afcd2f1b9bb64b562a98343f5e3fdafc71a98d82fde5a6d2f6af6d3361c60bb0',
};

test('v2: the worked example of docs/cluster-handoff.md, byte for byte, and the document shows the same bytes', { timeout: 5000 }, () => {
  const e = V2_EXAMPLE;
  const frame = encodeV2Document({ timestamp: e.timestamp, key: e.key, params: e.params }, secret(e.secret), Buffer.from(e.nonce));
  assert.equal(frame.toString('hex'), e.hex);
  const doc = verifyV2Document(frame.subarray(8), secret(e.secret), Buffer.from(e.nonce));
  assert.deepEqual(doc, { timestamp: e.timestamp, key: e.key, params: e.params.map(([n, v]) => [n, v]) });
  const spec = readFileSync(join(REPO_ROOT, 'docs', 'cluster-handoff.md'), 'utf8').replace(/\s+/g, '');
  assert.ok(spec.includes(e.hex), 'docs/cluster-handoff.md shows the example frame');
});

test('v2: every altered byte, another secret or another nonce fails the MAC', { timeout: 5000 }, () => {
  const e = V2_EXAMPLE;
  const payload = Buffer.from(e.hex, 'hex').subarray(8);
  for (let i = 0; i < payload.length; i++) {
    const altered = Buffer.from(payload);
    altered[i]! ^= 0x01;
    assert.throws(() => verifyV2Document(altered, secret(e.secret), Buffer.from(e.nonce)), MacError, `byte ${i}`);
  }
  assert.throws(() => verifyV2Document(payload, secret(e.secret + 'x'), Buffer.from(e.nonce)), MacError);
  assert.throws(() => verifyV2Document(payload, secret(e.secret), Buffer.from(e.nonce.replace('0', '1'))), MacError);
  // A longer frame (a parameter appended after the MAC) is another document: its MAC fails too.
  assert.throws(() => verifyV2Document(Buffer.concat([payload, Buffer.from([0, 0])]), secret(e.secret), Buffer.from(e.nonce)), MacError);
});

test('v2: no two inputs share an encoding (moving a byte between fields changes the MAC)', { timeout: 5000 }, () => {
  const s = secret('k');
  const nonce = Buffer.from('n'.repeat(16));
  const frames = [
    encodeV2Document({ timestamp: 1, key: 'ab', params: [['c', 'd']] }, s, nonce),
    encodeV2Document({ timestamp: 1, key: 'a', params: [['bc', 'd']] }, s, nonce),
    encodeV2Document({ timestamp: 1, key: 'a', params: [['b', 'cd']] }, s, nonce),
    encodeV2Document({ timestamp: 1, key: 'a b', params: [] }, s, nonce),
    encodeV2Document({ timestamp: 1, key: 'a', params: [['b', '']] }, s, nonce),
  ];
  const macs = new Set(frames.map((f) => f.subarray(-32).toString('hex')));
  assert.equal(macs.size, frames.length);
});

test('v2: result frames', { timeout: 5000 }, () => {
  const frame = encodeResult(RESULT.forbidden, 'node 10.9.9.9:22 is outside the allowlist');
  assert.equal(frame.readUInt32BE(0), PROXY_MAGIC);
  assert.equal(frame.readUInt16BE(4), 2);
  assert.deepEqual(decodeResult(frame.subarray(8)), { status: 2, reason: 'node 10.9.9.9:22 is outside the allowlist' });
});

test('the proxy verdict: good v1 and v2, tampered, stale or future timestamps, replay on another nonce', { timeout: 5000 }, () => {
  const s = secret('shared');
  const nonce = newNonce();
  assert.match(nonce.toString(), /^[0-9a-f]{64}$/);
  assert.notEqual(newNonce().toString(), nonce.toString());
  const now = 1_800_000_000_000;
  const opts = { secret: s, maxSkewMs: 60_000, now: () => now };
  const params = [['nodehost', '10.0.0.5'], ['nodeport', '5901']] as const;
  const v2 = (timestamp: number, n = nonce) => ({ magic: GATEWAY_MAGIC, version: 2, payload: encodeV2Document({ timestamp, key: 'k1', params }, s, n).subarray(8) });
  assert.equal(verifyDocument(v2(now / 1000), nonce, opts).key, 'k1');
  assert.equal(verifyDocument(v2(now / 1000 - 60), nonce, opts).version, 2, '60 s old is still fine');
  const refusal = (f: () => unknown, status: number, pattern: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof HandoffRefusal && e.status === status && pattern.test(e.message));
  refusal(() => verifyDocument(v2(now / 1000 - 61), nonce, opts), RESULT.unauthorised, /61 s old/);
  refusal(() => verifyDocument(v2(now / 1000 + 120), nonce, opts), RESULT.unauthorised, /120 s ahead/);
  // A document signed for another connection's nonce (a replay) fails.
  refusal(() => verifyDocument(v2(now / 1000, newNonce()), nonce, opts), RESULT.unauthorised, /MAC mismatch/);
  refusal(() => verifyDocument({ magic: GATEWAY_MAGIC, version: 2, payload: Buffer.alloc(10) }, nonce, opts), RESULT.malformed, /too short/);

  const hash = v1Hash('k1', s, nonce, params);
  const v1 = (p: typeof params | Array<[string, string]>) => ({ magic: GATEWAY_MAGIC, version: 1, payload: encodeV1Document({ key: 'k1', hash, params: p }) });
  assert.deepEqual(verifyDocument(v1(params), nonce, opts).params, params.map(([n, v]) => [n, v]));
  refusal(() => verifyDocument(v1([['nodehost', '10.0.0.6'], ['nodeport', '5901']]), nonce, opts), RESULT.unauthorised, /hash mismatch/);
  refusal(() => verifyDocument(v1(params), newNonce(), opts), RESULT.unauthorised, /hash mismatch/);
});

test('greeting: the lowest accepted version, the nonce as payload', { timeout: 5000 }, () => {
  const nonce = Buffer.from('n'.repeat(64));
  assert.equal(encodeGreeting([1, 2], nonce).toString('hex'), '564e432100010040' + nonce.toString('hex'));
  assert.equal(encodeGreeting([2], nonce).readUInt16BE(4), 2);
});

test('FrameCollector: one byte at a time, rest kept; bad magic, version and length refused from the header alone', { timeout: 5000 }, () => {
  const rules = { magic: PROXY_MAGIC, versions: [1, 2], maxPayload: 1024, what: 'greeting' };
  const frame = Buffer.concat([encodeFrame(PROXY_MAGIC, 1, Buffer.from('nonce')), Buffer.from('after')]);
  const c = new FrameCollector(rules);
  let got: ReturnType<FrameCollector['push']> = null;
  for (let i = 0; i < frame.length && !got; i++) got = c.push(frame.subarray(i, i + 1));
  assert.equal(got?.frame.payload.toString(), 'nonce');
  const whole = new FrameCollector(rules).push(frame);
  assert.equal(whole?.rest.toString(), 'after');
  const header = (magic: number, version: number, length: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(magic, 0);
    b.writeUInt16BE(version, 4);
    b.writeUInt16BE(length, 6);
    return b;
  };
  assert.throws(() => new FrameCollector(rules).push(header(0x12345678, 1, 4)), /bad magic 0x12345678/);
  assert.throws(() => new FrameCollector(rules).push(header(PROXY_MAGIC, 3, 4)), /version 3 not accepted/);
  assert.throws(() => new FrameCollector(rules).push(header(PROXY_MAGIC, 1, 1025)), /length 1025 exceeds 1024/);
  assert.throws(() => encodeFrame(GATEWAY_MAGIC, 1, Buffer.alloc(65536)), /does not fit the 16-bit length/);
});

test('a Secret prints as [secret] in strings, JSON and inspect', { timeout: 5000 }, () => {
  const s = secret('hunter2');
  assert.equal(`${s}`, '[secret]');
  assert.equal(JSON.stringify({ s }), '{"s":"[secret]"}');
  assert.doesNotMatch(inspect({ s }), /hunter2/);
  assert.equal(s.bytes.toString(), 'hunter2');
});
