// The FBS and Guacamole recording formats, each read back by a parser
// written here from the format's description (not wsgate's code): FBS
// blocks (u32 length, data padded to 4, u32 ms), an RFB handshake rewritten
// to security type None for 3.8, 3.7 and 3.3; Guacamole instructions
// (LEN.VALUE,...; with LEN in code points) cut anywhere between frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fbsRecording } from '../src/proxy/recording/fbs-recording.js';
import { guacRecording } from '../src/proxy/recording/guac-recording.js';
import { RecordingFormatError, type RecordingFormat } from '../src/proxy/recording/format.js';
import { pseudoRandom, sha256 } from './support/index.js';

/** FBS 1.0 read from its description: the header, then length / padded data / timestamp blocks. */
function parseFbs(file: Buffer): Array<{ ms: number; data: Buffer }> {
  assert.equal(file.toString('latin1', 0, 12), 'FBS 001.000\n');
  const blocks: Array<{ ms: number; data: Buffer }> = [];
  let at = 12;
  while (at < file.length) {
    const length = file.readUInt32BE(at);
    const padded = Math.ceil(length / 4) * 4;
    const data = file.subarray(at + 4, at + 4 + length);
    assert.ok(file.subarray(at + 4 + length, at + 4 + padded).every((b) => b === 0), 'padding is zeros');
    blocks.push({ data, ms: file.readUInt32BE(at + 4 + padded) });
    at += 4 + padded + 4;
  }
  assert.equal(at, file.length, 'no trailing bytes');
  return blocks;
}

/** Runs a conversation through a format: [who, ms, bytes] in order. */
function record(format: RecordingFormat, talk: Array<['server' | 'client', number, Buffer]>): Buffer {
  const out: Buffer[] = [Buffer.from(format.header)];
  for (const [who, ms, bytes] of talk) {
    const got = who === 'server' ? format.toClient(ms, bytes) : format.fromClient(ms, bytes);
    if (got !== null) out.push(Buffer.from(got));
  }
  if (format.trailer !== undefined) out.push(Buffer.from(format.trailer));
  return Buffer.concat(out);
}

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const serverInit = Buffer.concat([Buffer.from([0x03, 0x20, 0x02, 0x58]), Buffer.alloc(16, 7), u32(4), Buffer.from('desk')]);
const updates = pseudoRandom(70_001, 3);

test('FBS: an RFB 3.8 VNC-auth session is recorded as a server offering None; the rest byte-exact, with times', () => {
  const file = record(fbsRecording(), [
    ['server', 3, Buffer.from('RFB 003.008\n')],
    ['client', 5, Buffer.from('RFB 003.008\n')],
    ['server', 6, Buffer.from([2, 2, 16])], // VNC auth, Tight
    ['client', 7, Buffer.from([2])],
    ['server', 8, Buffer.alloc(16, 0xcc)], // the challenge
    ['client', 9, Buffer.alloc(16, 0xdd)], // the response
    ['server', 10, Buffer.concat([u32(0), serverInit.subarray(0, 5)])], // SecurityResult OK, ServerInit begun
    ['client', 11, Buffer.from([1])], // ClientInit
    ['server', 12, serverInit.subarray(5)],
    ['server', 20, updates.subarray(0, 30_001)],
    ['client', 21, Buffer.alloc(10, 0xee)],
    ['server', 4_000_000, updates.subarray(30_001)],
  ]);
  const blocks = parseFbs(file);
  const stream = Buffer.concat(blocks.map((b) => b.data));
  const expected = Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1]), u32(0), serverInit, updates]);
  assert.equal(sha256(stream), sha256(expected));
  assert.ok(!file.includes(Buffer.alloc(16, 0xcc)) && !file.includes(Buffer.alloc(10, 0xee)), 'no challenge, nothing from the client');
  assert.deepEqual(blocks.map((b) => b.ms), [5, 6, 10, 12, 20, 4_000_000]);
});

test('FBS: 3.7 and 3.3 sessions are rewritten by their own rules (no SecurityResult for None)', () => {
  const v37 = parseFbs(record(fbsRecording(), [
    ['server', 1, Buffer.from('RFB 003.008\n')],
    ['client', 2, Buffer.from('RFB 003.007\n')], // the session's version is the client's
    ['server', 3, Buffer.concat([Buffer.from([1, 2]), Buffer.alloc(16, 0xcc)])],
    ['client', 4, Buffer.from([2])],
    ['client', 5, Buffer.alloc(16, 0xdd)],
    ['server', 6, Buffer.concat([u32(0), serverInit, updates.subarray(0, 99)])],
  ]));
  assert.ok(Buffer.concat(v37.map((b) => b.data)).equals(Buffer.concat([Buffer.from('RFB 003.007\n'), Buffer.from([1, 1]), serverInit, updates.subarray(0, 99)])));
  const v33 = parseFbs(record(fbsRecording(), [
    ['server', 1, Buffer.from('RFB 003.003\n')],
    ['client', 2, Buffer.from('RFB 003.003\n')],
    ['server', 3, Buffer.concat([u32(2), Buffer.alloc(16, 0xcc)])],
    ['client', 5, Buffer.alloc(16, 0xdd)],
    ['server', 6, Buffer.concat([u32(0), serverInit])],
  ]));
  assert.ok(Buffer.concat(v33.map((b) => b.data)).equals(Buffer.concat([Buffer.from('RFB 003.003\n'), u32(1), serverInit])));
});

test('FBS: a security type it cannot rewrite (VeNCrypt) stops the recording with a reason', () => {
  const fbs = fbsRecording();
  fbs.toClient(1, Buffer.from('RFB 003.008\n'));
  fbs.fromClient(2, Buffer.from('RFB 003.008\n'));
  fbs.toClient(3, Buffer.from([1, 19]));
  assert.throws(() => fbs.fromClient(4, Buffer.from([19])), (e: unknown) => e instanceof RecordingFormatError && /security type 19/.test(e.message));
});

/** Guacamole instructions read from the protocol's description: LEN.VALUE elements, ',' between, ';' after. */
function parseGuac(text: string): string[][] {
  const cps = [...text];
  const out: string[][] = [];
  let element: string[] = [];
  let i = 0;
  while (i < cps.length) {
    let len = '';
    while (cps[i] !== '.') len += cps[i++];
    assert.match(len, /^\d+$/);
    const value = cps.slice(i + 1, i + 1 + Number(len)).join('');
    i += 1 + Number(len);
    element.push(value);
    const sep = cps[i++];
    if (sep === ';') {
      out.push(element);
      element = [];
    } else assert.equal(sep, ',');
  }
  assert.deepEqual(element, [], 'no instruction left open');
  return out;
}

const enc = (...parts: string[]) => parts.map((p) => `${[...p].length}.${p}`).join(',') + ';';

test('guac: the server stream without the tunnel\'s own instructions; the client\'s key and mouse only with inputs', () => {
  const server = [
    enc('', 'e6b2f6e5-1f1c-4d47-9a9b-6a7e2b0f3c11'), // the tunnel's UUID
    enc('size', '0', '1024', '768'),
    enc('name', 'Café ☕ 𝄞 desk'), // multi-byte and astral characters: lengths in code points
    enc('', 'ping', '1700000000'),
    enc('img', '1', '14', '0', 'image/png', '0', '0'),
    enc('sync', '1700000000123'),
  ];
  const client = [enc('', 'ping', '1700000000'), enc('key', '65', '1'), enc('mouse', '10', '20', '1'), enc('clipboard', '2', 'text/plain'), enc('sync', '1700000000123')];
  const chunked = (text: string, seed: number) => {
    // Cut anywhere, even inside a UTF-8 sequence.
    const bytes = Buffer.from(text);
    const sizes = pseudoRandom(bytes.length, seed);
    const parts: Buffer[] = [];
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const n = 1 + (sizes[k]! % 7);
      parts.push(bytes.subarray(at, at + n));
      at += n;
    }
    return parts;
  };
  for (const inputs of [false, true]) {
    const format = guacRecording(inputs);
    const talk: Array<['server' | 'client', number, Buffer]> = [];
    const s = chunked(server.join(''), 1);
    const c = chunked(client.join(''), 2);
    for (let i = 0; i < Math.max(s.length, c.length); i++) {
      if (s[i]) talk.push(['server', i, s[i]!]);
      if (c[i]) talk.push(['client', i, c[i]!]);
    }
    const got = parseGuac(record(format, talk).toString('utf8'));
    const opcodes = got.map((e) => e[0]);
    const serverOps = ['size', 'name', 'img', 'sync'];
    assert.deepEqual(opcodes.filter((op) => op !== 'key' && op !== 'mouse'), serverOps);
    assert.deepEqual(opcodes.filter((op) => op === 'key' || op === 'mouse'), inputs ? ['key', 'mouse'] : []);
    assert.deepEqual(got.find((e) => e[0] === 'name'), ['name', 'Café ☕ 𝄞 desk']);
    assert.deepEqual(got.find((e) => e[0] === 'img'), ['img', '1', '14', '0', 'image/png', '0', '0']);
  }
});
