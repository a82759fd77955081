// Property test of the Guacamole framer: random instruction streams (ASCII,
// 2-, 3- and 4-byte UTF-8, empty elements, values of 30,000 code points) cut
// at random byte boundaries. Every message must hold whole instructions only,
// and the messages together must be the input, byte for byte. Broken streams
// must give the right error, with every instruction before it passed on and
// nothing of the broken one. Seeded, so a failure names a reproducible case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstructionFramer } from '../../src/proxy/guacamole/framer.js';
import { instruction as encode, parseWhole, prng } from '../support/guacamole.js';

type Rng = ReturnType<typeof prng>;

// Code points of each UTF-8 width, including the protocol's own punctuation and the ends of each range.
const ONE = ['a', 'Z', '0', '9', '.', ',', ';', ' ', '\u007f', '\u0000'];
const TWO = ['é', 'ж', '\u0080', '\u07ff'];
const THREE = ['€', '中', '\u0800', '\ufffd', '\uffff', '\ud7ff', '\ue000'];
const FOUR = ['😀', '\u{10000}', '\u{10ffff}', '𝄞'];

/** A value: empty, short (most), long, or 30,000 code points; `small` keeps it short. */
function value(rng: Rng, small: boolean): string {
  const kind = rng.int(20);
  if (kind === 0) return '';
  const length = small ? rng.int(12) : kind === 1 ? 30_000 : kind < 4 ? rng.int(2000) : rng.int(12);
  const pools = kind % 5 === 0 ? [ONE] : [ONE, TWO, THREE, FOUR];
  let out = '';
  for (let i = 0; i < length; i++) out += rng.pick(rng.pick(pools));
  return out;
}

function randomInstruction(rng: Rng): string {
  const opcode = rng.int(8) === 0 ? '' : rng.pick(['sync', 'img', 'blob', 'size', 'nop', 'name', 'clipboard']);
  const elements = [opcode];
  const count = rng.int(6);
  // Most instructions are small, as guacd's are (sync, mouse, rect), among a few huge ones.
  const small = rng.int(3) > 0;
  for (let i = 0; i < count; i++) elements.push(value(rng, small));
  return encode(...elements);
}

/** Cuts `bytes` into chunks of random sizes (many tiny ones, some large) and feeds them, borrowed or owned. */
function feed(rng: Rng, framer: InstructionFramer, bytes: Buffer, cap: number) {
  const messages: Buffer[] = [];
  /** Messages still "being written": copied and completed later, as a slow socket would. */
  const unwritten: Array<{ view: Buffer; written: () => void }> = [];
  const writeSome = (all: boolean) => {
    while (unwritten.length > 0 && (all || rng.int(2) === 0)) {
      const { view, written } = unwritten.shift()!;
      messages.push(Buffer.from(view));
      written();
    }
  };
  const perPush: Array<{ sizes: number[]; finishesCarry: boolean }> = [];
  let pos = 0;
  while (pos < bytes.length) {
    const size = rng.pick([1, 2, 3, rng.int(16) + 1, rng.int(700) + 1, rng.int(70_000) + 1, rng.int(600_000) + 1]);
    const end = Math.min(bytes.length, pos + size);
    const borrowed = rng.int(2) === 0;
    // A fresh buffer each read, scribbled over once released: a view kept past release() would show it.
    const chunk = Buffer.from(bytes.subarray(pos, end));
    let released = false;
    const sizes: number[] = [];
    // A borrowed read finishes a carried instruction in a message of its own (only that is copied).
    const finishesCarry = borrowed && framer.pendingBytes > 0;
    framer.push(
      chunk,
      borrowed
        ? () => {
            assert.equal(released, false, 'released twice');
            released = true;
            chunk.fill(0x21);
          }
        : null,
      (message, written) => {
        sizes.push(message.length);
        if (written) unwritten.push({ view: message, written });
        else messages.push(message);
        return true;
      },
    );
    perPush.push({ sizes, finishesCarry });
    if (process.env.DBG && finishesCarry && chunk.length > 10000) console.log(cap, chunk.length, sizes.slice(0, 5));
    writeSome(false);
    pos = end;
  }
  writeSome(true);
  // Every message but the last of a read was cut only once it reached the cap.
  for (const { sizes, finishesCarry } of perPush) {
    const cutAtCap = finishesCarry ? sizes.slice(1, -1) : sizes.slice(0, -1);
    for (const s of cutAtCap) assert.ok(s >= cap, `a message of ${s} bytes was cut below the cap ${cap}`);
  }
  return messages;
}

test('random streams cut at random byte boundaries: whole instructions per message, the input exactly', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rng = prng(seed);
    const instructions: string[] = [];
    const count = rng.int(120) + 1;
    for (let i = 0; i < count; i++) instructions.push(randomInstruction(rng));
    const input = Buffer.from(instructions.join(''));
    const cap = rng.pick([64, 1024, 8192, 32 * 1024]);
    const framer = new InstructionFramer({ maxMessageBytes: cap });
    const messages = feed(rng, framer, input, cap);
    assert.equal(framer.error, null, `seed ${seed}: ${framer.error?.message}`);
    assert.equal(framer.pendingBytes, 0);
    const seen: string[] = [];
    for (const m of messages) {
      assert.ok(m.length > 0, `seed ${seed}: an empty message`);
      seen.push(...parseWhole(m.toString('utf8')).map((elements) => encode(...elements)));
    }
    assert.ok(Buffer.concat(messages).equals(input), `seed ${seed}: the messages are not the input`);
    assert.deepEqual(seen, instructions, `seed ${seed}`);
    assert.ok(messages.length <= count, `seed ${seed}: more messages than instructions`);
  }
});

test('many small instructions in one read go out as a few messages, not one each', () => {
  const framer = new InstructionFramer({ maxMessageBytes: 32 * 1024 });
  const input = Buffer.from('4.sync,8.12345678;'.repeat(10_000));
  const sizes: number[] = [];
  framer.push(input, null, (m) => (sizes.push(m.length), true));
  assert.equal(sizes.reduce((a, b) => a + b, 0), input.length);
  assert.equal(sizes.length, Math.ceil(input.length / (32 * 1024 + 18)));
});

/** Ways to break an instruction, each with the error it must give. */
const BREAKERS: Array<{ name: string; code: string; bytes: (rng: Rng) => Buffer; last?: boolean }> = [
  { name: 'a non-digit in a length', code: 'GUAC_ERR_SYNTAX', bytes: () => Buffer.from('4.sync,1x.a;') },
  { name: 'no length', code: 'GUAC_ERR_SYNTAX', bytes: () => Buffer.from('4.sync,.;') },
  { name: 'a value longer than its length', code: 'GUAC_ERR_SYNTAX', bytes: () => Buffer.from('4.sync,2.abc;') },
  { name: 'a missing terminator', code: 'GUAC_ERR_SYNTAX', bytes: () => Buffer.from('4.sync3.abc;') },
  { name: 'a byte that starts no character', code: 'GUAC_ERR_UTF8', bytes: (rng) => Buffer.from([0x34, 0x2e, 0x61, rng.pick([0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff]), 0x62, 0x63, 0x3b]) },
  { name: 'an overlong form', code: 'GUAC_ERR_UTF8', bytes: () => Buffer.from([0x32, 0x2e, 0xe0, 0x80, 0xaf, 0x61, 0x3b]) },
  { name: 'a surrogate', code: 'GUAC_ERR_UTF8', bytes: () => Buffer.from([0x31, 0x2e, 0xed, 0xb0, 0x80, 0x3b]) },
  { name: 'a character cut short', code: 'GUAC_ERR_UTF8', bytes: () => Buffer.from([0x33, 0x2e, 0xf0, 0x9f, 0x98, 0x61, 0x62, 0x3b]) },
  { name: 'an element too long to ever fit', code: 'GUAC_ERR_TOO_LONG', bytes: () => Buffer.from('3.img,9999999.abc') },
  { name: 'an instruction past the pending bound', code: 'GUAC_ERR_TOO_LONG', bytes: () => Buffer.from('4.blob' + ',3.abc'.repeat(50_000)), last: true },
];
const CLOSE_CODES: Record<string, number> = { GUAC_ERR_SYNTAX: 1002, GUAC_ERR_UTF8: 1007, GUAC_ERR_TOO_LONG: 1009 };

test('broken streams: the right error; every instruction before it, nothing of the broken one', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const rng = prng(1000 + seed);
    const before: string[] = [];
    const count = rng.int(30);
    for (let i = 0; i < count; i++) before.push(randomInstruction(rng));
    const breaker = BREAKERS[seed % BREAKERS.length]!;
    const good = Buffer.from(before.join(''));
    // (An instruction that only outgrows the bound must end the stream: anything after it would break its syntax first.)
    const input = Buffer.concat([good, breaker.bytes(rng), Buffer.from(breaker.last ? '' : randomInstruction(rng))]);
    const framer = new InstructionFramer({ maxMessageBytes: 4096, maxPendingBytes: 256 * 1024 });
    const messages = feed(rng, framer, input, 4096);
    assert.equal(framer.error?.code, breaker.code, `seed ${seed} (${breaker.name}): ${framer.error?.message}`);
    assert.equal(framer.error?.closeCode, CLOSE_CODES[breaker.code]);
    assert.ok(Buffer.concat(messages).equals(good), `seed ${seed} (${breaker.name}): sent ${Buffer.concat(messages).length} of ${good.length} bytes before the break`);
  }
});
