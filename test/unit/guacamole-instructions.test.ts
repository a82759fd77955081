// The Guacamole instruction parser, framer, encoder and client-message
// checker on hand-written cases (the random ones are in guacamole-framer.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstructionParser } from '../../src/proxy/guacamole/instruction-parser.js';
import { InstructionFramer } from '../../src/proxy/guacamole/framer.js';
import { decodeInstructions, encodeInstruction } from '../../src/proxy/guacamole/instruction.js';
import { ClientMessageChecker } from '../../src/proxy/guacamole/client-messages.js';
import { GuacamoleStatus, webSocketCodeOf } from '../../src/proxy/guacamole/status.js';

function frame(chunks: Array<string | Buffer>, opts: ConstructorParameters<typeof InstructionFramer>[0] = {}) {
  const framer = new InstructionFramer(opts);
  const messages: string[] = [];
  for (const c of chunks) framer.push(typeof c === 'string' ? Buffer.from(c) : c, null, (m) => (messages.push(m.toString()), true));
  return { messages, error: framer.error, pending: framer.pendingBytes };
}

test('lengths count code points, not bytes or UTF-16 units', () => {
  // é: 2 bytes, €: 3 bytes, 😀: 4 bytes and two UTF-16 units; each one code point.
  const text = '4.name,4.aé€😀;';
  assert.deepEqual(frame([text]).messages, [text]);
  assert.equal(encodeInstruction(['name', 'aé€😀']), text);
  assert.deepEqual(decodeInstructions(Buffer.from(text)).map((i) => [i.opcode, ...i.args]), [['name', 'aé€😀']]);
  // Counted in bytes (as the original did), the value would swallow the ";" and wait for more.
  const byBytes = frame(['4.name,10.aé€😀;']);
  assert.deepEqual(byBytes.messages, []);
  assert.equal(byBytes.pending, Buffer.byteLength('4.name,10.aé€😀;'));
});

test('empty elements and the empty opcode are valid', () => {
  const text = '0.,4.ping,13.1700000000000;0.;3.key,0.,1.1;';
  assert.deepEqual(frame([text]).messages, [text]);
  assert.deepEqual(decodeInstructions(Buffer.from(text)).map((i) => [i.opcode, ...i.args]), [['', 'ping', '1700000000000'], [''], ['key', '', '1']]);
  assert.equal(encodeInstruction(['', 'ping', '5']), '0.,4.ping,1.5;');
});

test('a character split between reads is carried over, and a partial instruction waits', () => {
  const bytes = Buffer.from('4.sync,2.€é;3.nop;');
  // Cut inside the 3-byte "€" (offset 10 is its second byte) and inside the 2-byte "é".
  const r = frame([bytes.subarray(0, 10), bytes.subarray(10, 12), bytes.subarray(12, 14), bytes.subarray(14)]);
  assert.deepEqual(r.messages, ['4.sync,2.€é;3.nop;']);
  const partial = frame([bytes.subarray(0, 10)]);
  assert.deepEqual(partial.messages, []);
  assert.equal(partial.pending, 10);
});

test('per read, whole instructions go out in as few messages as the cap allows', () => {
  const one = '4.blob,1.1,100.' + 'A'.repeat(100) + ';';
  const r = frame([one.repeat(50)], { maxMessageBytes: 1000 });
  // 50 instructions of 113 bytes: cut at the first end at or past 1000 bytes (9 instructions).
  assert.equal(r.messages.join(''), one.repeat(50));
  assert.deepEqual(r.messages.map((m) => m.length / one.length), [9, 9, 9, 9, 9, 5]);
  // One instruction longer than the cap is a message of its own.
  const big = '3.img,5000.' + 'B'.repeat(5000) + ';';
  assert.deepEqual(frame([big + one], { maxMessageBytes: 1000 }).messages, [big, one]);
});

test('malformed streams: the instructions before go out, the broken one does not', () => {
  const good = '4.sync,1.1;';
  const cases: Array<[string | Buffer, string, number]> = [
    ['x.abc;', 'GUAC_ERR_SYNTAX', 1002],
    ['.;', 'GUAC_ERR_SYNTAX', 1002],
    ['3.abcd;', 'GUAC_ERR_SYNTAX', 1002],
    ['3.abc', 'none', 0],
    ['3.abc.', 'GUAC_ERR_SYNTAX', 1002],
    ['1a.b;', 'GUAC_ERR_SYNTAX', 1002],
    [Buffer.from([0x31, 0x2e, 0xff, 0x3b]), 'GUAC_ERR_UTF8', 1007],
    [Buffer.from([0x31, 0x2e, 0x80, 0x3b]), 'GUAC_ERR_UTF8', 1007],
    [Buffer.from([0x31, 0x2e, 0xc0, 0x80, 0x3b]), 'GUAC_ERR_UTF8', 1007], // overlong
    [Buffer.from([0x31, 0x2e, 0xed, 0xa0, 0x80, 0x3b]), 'GUAC_ERR_UTF8', 1007], // a surrogate
    [Buffer.from([0x31, 0x2e, 0xf4, 0x90, 0x80, 0x80, 0x3b]), 'GUAC_ERR_UTF8', 1007], // above U+10FFFF
    [Buffer.from([0x32, 0x2e, 0xe2, 0x82, 0x2c]), 'GUAC_ERR_UTF8', 1007], // truncated character
    ['99999999999.a;', 'GUAC_ERR_TOO_LONG', 1009],
  ];
  for (const [bad, code, closeCode] of cases) {
    const r = frame([Buffer.concat([Buffer.from(good + good), Buffer.from(bad)])], { maxPendingBytes: 1 << 20 });
    assert.deepEqual(r.messages, [good + good], `${bad.toString()}`);
    if (code === 'none') {
      assert.equal(r.error, null);
      continue;
    }
    assert.equal(r.error?.code, code, `${bad.toString('hex')}: ${r.error?.message}`);
    assert.equal(r.error?.closeCode, closeCode);
  }
});

test('a partial instruction may wait only up to the bound', () => {
  const r = frame(['4.sync,1.1;4.blob', ',1.a'.repeat(100)], { maxPendingBytes: 300 });
  assert.deepEqual(r.messages, ['4.sync,1.1;']);
  assert.equal(r.error?.code, 'GUAC_ERR_TOO_LONG');
  assert.equal(r.error?.closeCode, 1009);
  // A declared length that could not fit is refused at once.
  const declared = frame(['4.sync,1.1;3.img,400.'], { maxPendingBytes: 300 });
  assert.deepEqual(declared.messages, ['4.sync,1.1;']);
  assert.equal(declared.error?.code, 'GUAC_ERR_TOO_LONG');
  // Nothing goes out after an error.
  const framer = new InstructionFramer({ maxPendingBytes: 300 });
  const sent: string[] = [];
  for (const c of ['3.nop;4.blob', ',1.a'.repeat(100), ';3.nop;']) framer.push(Buffer.from(c), null, (m) => (sent.push(m.toString()), true));
  assert.deepEqual(sent, ['3.nop;']);
});

test('a borrowed read is released once every message made of it is written', () => {
  const framer = new InstructionFramer({ maxMessageBytes: 8 });
  const pending: Array<() => void> = [];
  let released = 0;
  const chunk = Buffer.from('3.nop;3.nop;3.nop;4.sy');
  framer.push(chunk, () => released++, (_m, written) => {
    assert.ok(written, 'views of a borrowed chunk carry a completion');
    pending.push(written);
    return true;
  });
  assert.equal(pending.length, 2);
  assert.equal(framer.pendingBytes, 4); // the partial "4.sy" was copied
  pending[0]!();
  assert.equal(released, 0);
  pending[1]!();
  assert.equal(released, 1);
  chunk.fill(0); // the reader reuses its buffer
  const out: string[] = [];
  framer.push(Buffer.from('nc,1.1;'), null, (m) => (out.push(m.toString()), true));
  assert.deepEqual(out, ['4.sync,1.1;']);
});

test('a borrowed read finishes a carried instruction in a message of its own; an owned one joins it to the rest', () => {
  const one = '4.sync,1.1;';
  for (const borrowed of [true, false]) {
    const framer = new InstructionFramer({ maxMessageBytes: 1000 });
    const sizes: number[] = [];
    const sink = (m: Buffer, written?: () => void) => (sizes.push(m.length), written?.(), true);
    framer.push(Buffer.from('4.sy'), null, sink);
    framer.push(Buffer.from('nc,1.1;' + one.repeat(200)), borrowed ? () => {} : null, sink);
    assert.deepEqual(sizes, borrowed ? [11, 1001, 1001, 198] : [1001, 1001, 209], `borrowed: ${borrowed}`);
  }
});

test('the parser reports boundaries and can cut at the first one past a point', () => {
  const p = new InstructionParser();
  p.reset();
  const buf = Buffer.from('3.nop;3.nop;3.n');
  assert.equal(p.atBoundary, true);
  assert.equal(p.scan(buf, 0, buf.length, 1), true);
  assert.equal(p.position, 6);
  assert.equal(p.scan(buf, 6, buf.length), false);
  assert.equal(p.lastEnd, 12);
  assert.equal(p.atBoundary, false);
});

test('client messages: whole instructions pass, pings are answered and not forwarded', () => {
  const checker = new ClientMessageChecker();
  const plain = Buffer.from('3.key,5.65307,1.1;5.mouse,2.10,2.20,1.1;');
  const a = checker.check(plain);
  assert.ok(!(a instanceof Error));
  assert.equal(a.forward, plain, 'a message without internal instructions goes on as it is');
  assert.equal(a.pings.length, 0);

  const ping = '0.,4.ping,13.1700000000000;';
  const b = checker.check(Buffer.from(`${ping}3.key,1.1,1.1;0.,3.foo;4.sync,1.5;`));
  assert.ok(!(b instanceof Error));
  assert.equal(b.forward?.toString(), '3.key,1.1,1.1;4.sync,1.5;');
  assert.deepEqual(b.pings.map(String), [ping]);

  const c = checker.check(Buffer.from(ping));
  assert.ok(!(c instanceof Error));
  assert.equal(c.forward, null);

  // ";0." inside a value is not an instruction start.
  const d = checker.check(Buffer.from('9.clipboard,5.a;0.b;'));
  assert.ok(!(d instanceof Error));
  assert.equal(d.forward?.toString(), '9.clipboard,5.a;0.b;');

  for (const bad of ['3.key,1.1', '3.key,1.1;3.k', 'hello', '0.,4.ping,1.1']) {
    const e = checker.check(Buffer.from(bad));
    assert.ok(e instanceof Error, bad);
    assert.equal(e.closeCode, 1002);
  }
});

test('Guacamole statuses pair with WebSocket codes as guacamole-common does', () => {
  assert.equal(GuacamoleStatus.UPSTREAM_NOT_FOUND, 519);
  assert.equal(webSocketCodeOf(GuacamoleStatus.SUCCESS), 1000);
  assert.equal(webSocketCodeOf(GuacamoleStatus.UPSTREAM_TIMEOUT), 1011);
  assert.equal(webSocketCodeOf(GuacamoleStatus.RESOURCE_NOT_FOUND), 1002);
  assert.equal(webSocketCodeOf(GuacamoleStatus.CLIENT_FORBIDDEN), 1008);
  assert.equal(webSocketCodeOf(GuacamoleStatus.CLIENT_OVERRUN), 1009);
});
