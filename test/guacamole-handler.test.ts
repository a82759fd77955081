// The guacamole handler against the guacd stand-in, over real loopback
// sockets: the tunnel UUID first, the guacd handshake (versions, the
// client's GUAC_* data, values in args order), settings from a real store
// (SQLite columns, Redis JSON fields), the relay afterwards (key/mouse to
// guacd, pings answered, nop while idle, required/argv passed through),
// refusals before the 101 and numeric statuses after it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { startGateway, startBackend, connect, closed, handshakeStatus, sessionsDrained, tempDir, until } from './support/index.js';
import { instruction, parseWhole } from './support/guacamole.js';
import { revokeToken } from '../src/proxy/resolvers/redis.js';
import { startGuacdStandin, streamedBytes, type StandinConnect, type StandinOptions } from './support/guacd-standin.js';

type Row = Record<string, string | number | null>;

/** A SQLite file with a `conns` table of the given rows (columns from the first row). */
function sqliteStore(t: TestContext, rows: Row[]): string {
  const file = join(tempDir(t, 'guacd'), 'conns.db');
  const db = new Database(file);
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  db.exec(`CREATE TABLE conns (${columns.map((c) => `"${c}" TEXT`).join(', ')})`);
  const insert = db.prepare(`INSERT INTO conns (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  for (const r of rows) insert.run(...columns.map((c) => (r[c] === undefined ? null : String(r[c]))));
  db.close();
  return file;
}

async function setup(t: TestContext, opts: { standin?: StandinOptions; rows?: Row[]; route?: Record<string, unknown>; resolver?: Record<string, unknown> } = {}) {
  const standin = await startGuacdStandin(opts.standin);
  t.after(() => standin.close());
  const resolver = opts.resolver ?? { type: 'sqlite', path: sqliteStore(t, opts.rows ?? [VNC_ROW]), query: 'SELECT * FROM conns WHERE token = ?' };
  const gw = await startGateway({ routes: [{ path: '/guac', handler: 'guacamole', guacd: `127.0.0.1:${standin.port}`, resolver, ...opts.route }] });
  t.after(() => gw.stop());
  return { standin, gw, url: (query: string) => gw.url(`/guac?${query}`) };
}

const VNC_ROW: Row = { token: 'tok-vnc', protocol: 'vnc', hostname: '10.1.2.3', port: 5901, password: 'Secret,1;2.3€', name: 'alice' };

/** A tunnel client as guacamole-common-js is: every message parsed whole; instructions kept in order. */
function tunnel(url: string) {
  const ws = new WebSocket(url, ['guacamole']);
  const instructions: string[][] = [];
  const arrivals: number[] = [];
  const problems: string[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    arrivals.push(Date.now());
    if (isBinary) problems.push('binary message');
    try {
      instructions.push(...parseWhole(data.toString('utf8')));
    } catch (e) {
      problems.push((e as Error).message);
    }
  });
  const send = (...elements: Array<string | number>) => ws.send(instruction(...elements));
  const waitFor = (opcode: string, ms = 5000) => until(() => instructions.some((i) => i[0] === opcode), { timeoutMs: ms, what: `"${opcode}" from the gateway` }).then(() => instructions.find((i) => i[0] === opcode)!);
  return { ws, instructions, arrivals, problems, send, waitFor, end: closed(ws) };
}

const connectOf = (standin: { events: NodeJS.EventEmitter }) => once(standin.events, 'connect').then(([c]) => c as StandinConnect);

test('handshake: UUID first, select/args/size/audio/video/image/timezone/name/connect, ready kept; then the relay both ways', { timeout: 20_000 }, async (t) => {
  const { standin, url } = await setup(t);
  const connected = connectOf(standin);
  const query = 'token=tok-vnc&GUAC_WIDTH=1280&GUAC_HEIGHT=720&GUAC_DPI=120&GUAC_AUDIO=audio/L16;rate=44100,channels=2&GUAC_IMAGE=image/png&GUAC_IMAGE=image/jpeg&GUAC_TIMEZONE=Europe/Berlin';
  const c = tunnel(url(query));
  const info = await connected;
  assert.equal(info.protocol, 'vnc');
  assert.equal(info.version, 'VERSION_1_5_0');
  assert.deepEqual(info.values, { hostname: '10.1.2.3', port: '5901', password: 'Secret,1;2.3€', 'read-only': '', 'color-depth': '' });
  assert.deepEqual(info.size, ['1280', '720', '120']);
  assert.deepEqual(info.audio, ['audio/L16;rate=44100,channels=2']);
  assert.deepEqual(info.video, []);
  assert.deepEqual(info.image, ['image/png', 'image/jpeg']);
  assert.equal(info.timezone, 'Europe/Berlin');
  assert.equal(info.name, 'alice');

  await c.waitFor('sync');
  const [first, ...rest] = c.instructions;
  assert.equal(first![0], '', 'the first instruction is the internal one');
  assert.match(first![1]!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a random (v4) UUID');
  assert.deepEqual(rest.map((i) => i[0]).slice(0, 4), ['size', 'rect', 'cfill', 'sync']);
  assert.ok(!c.instructions.some((i) => i[0] === 'ready'), 'guacd\'s connection id is not passed to the browser');

  const keys = once(standin.events, 'key');
  const mice = once(standin.events, 'mouse');
  const internal: string[][] = [];
  standin.events.on('instruction', (i: string[]) => i[0] === '' && internal.push(i));
  c.send('', 'ping', 1_700_000_000_123);
  c.ws.send(instruction('key', 65293, 1) + instruction('', 'ping', 7) + instruction('mouse', 10, 20, 1));
  assert.deepEqual((await keys)[0], ['65293', '1']);
  assert.deepEqual((await mice)[0], ['10', '20', '1']);
  await until(() => c.instructions.filter((i) => i[0] === '' && i[1] === 'ping').length === 2, { timeoutMs: 5000, what: 'two pongs' });
  assert.deepEqual(c.instructions.filter((i) => i[0] === '' && i[1] === 'ping'), [['', 'ping', '1700000000123'], ['', 'ping', '7']]);
  assert.deepEqual(internal, [], 'no internal instruction reaches guacd');
  assert.deepEqual(c.problems, []);
  c.ws.close(1000);
  await c.end;
});

test('versions: the lowest common one up to VERSION_1_5_0; timezone from 1.1, name from 1.5; none before 1.1', { timeout: 20_000 }, async (t) => {
  for (const [offered, answered, timezone, name] of [
    ['VERSION_1_6_0', 'VERSION_1_5_0', true, true],
    ['VERSION_1_3_0', 'VERSION_1_3_0', true, false],
    ['VERSION_1_1_0', 'VERSION_1_1_0', true, false],
    [null, null, false, false],
  ] as const) {
    const { standin, url } = await setup(t, { standin: { version: offered } });
    const connected = connectOf(standin);
    const c = tunnel(url('token=tok-vnc&GUAC_TIMEZONE=UTC'));
    const info = await connected;
    assert.equal(info.version, answered, `${offered}`);
    assert.equal(info.timezone !== undefined, timezone, `${offered}: timezone`);
    assert.equal(info.name !== undefined, name, `${offered}: name`);
    assert.equal(info.values.hostname, '10.1.2.3');
    assert.deepEqual(info.size, ['1024', '768', '96'], 'defaults without GUAC_WIDTH/HEIGHT/DPI');
    await c.waitFor('sync');
    c.ws.close();
    await c.end;
  }
});

test('refusals before the 101: unknown token 403, record without protocol 403, store down 503, guacd down 502', { timeout: 20_000 }, async (t) => {
  const { url } = await setup(t, { rows: [VNC_ROW, { token: 'no-proto', hostname: 'h' }] });
  assert.equal(await handshakeStatus(url('token=nope'), ['guacamole']), 403);
  assert.equal(await handshakeStatus(url('token=no-proto'), ['guacamole']), 403);
  assert.equal(await handshakeStatus(url('token=tok-vnc'), ['binary']), 400);
  const down = await setup(t, { resolver: { type: 'sqlite', path: '/nonexistent/dir/conns.db', query: 'SELECT * FROM conns WHERE token = ?' } });
  assert.equal(await handshakeStatus(down.url('token=tok-vnc'), ['guacamole']), 503);
  const closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const noGuacd = await setup(t, { route: { guacd: `127.0.0.1:${closedPort}` } });
  assert.equal(await handshakeStatus(noGuacd.url('token=tok-vnc'), ['guacamole']), 502);
});

test('guacd refuses during the handshake: its error instruction reaches the browser, the close carries its status', { timeout: 20_000 }, async (t) => {
  const { url } = await setup(t, { standin: { refuse: { message: 'Upstream not found', status: 0x0207 } } });
  const c = tunnel(url('token=tok-vnc'));
  assert.deepEqual(await c.end, { code: 1011, reason: '519' });
  assert.deepEqual(c.instructions.map((i) => i[0]), ['', 'error']);
  assert.deepEqual(c.instructions[1], ['error', 'Upstream not found', '519']);

  // A protocol guacd has no plugin for: guacd hangs up.
  const other = await setup(t, { rows: [{ token: 'tok-x', protocol: 'nosuch' }] });
  const d = tunnel(other.url('token=tok-x'));
  assert.deepEqual(await d.end, { code: 1011, reason: '515' });
});

test('settings from the store and the query: guacdhost/guacdport pick guacd; clientSettings lets only the listed ones through', { timeout: 20_000 }, async (t) => {
  const standin = await startGuacdStandin();
  t.after(() => standin.close());
  const rows = [{ token: 'tok-rdp', protocol: 'rdp', hostname: 'win', username: 'bob', password: 'pw', guacdhost: '127.0.0.1', guacdport: standin.port }];
  // The route's own guacd is a port nobody listens on: the record's must be the one dialed.
  const { url } = await setup(t, { rows, route: { guacd: '127.0.0.1:1', clientSettings: ['width', 'height'] } });
  const connected = connectOf(standin);
  const c = tunnel(url('token=tok-rdp&width=1600&height=900&hostname=evil&GUAC_WIDTH=1600'));
  const info = await connected;
  assert.equal(info.protocol, 'rdp');
  assert.equal(info.values.hostname, 'win');
  assert.equal(info.values.width, '1600');
  assert.equal(info.values.height, '900');
  assert.equal(info.values.username, 'bob');
  assert.equal(info.values.dpi, '');
  c.ws.close();
  await c.end;
});

test('settings from Redis JSON fields; a revoked token closes the tunnel with status 769', { timeout: 20_000 }, async (t) => {
  const redis = new Redis('redis://127.0.0.1:6379');
  const prefix = `wsgate-test:${randomUUID()}:`;
  t.after(async () => {
    await redis.del(`${prefix}tok-ssh`);
    redis.disconnect();
  });
  await redis.set(`${prefix}tok-ssh`, JSON.stringify({ protocol: 'ssh', hostname: 'box', port: 22, username: 'carol', 'private-key': '-----BEGIN KEY-----\nabc\n' }));
  const { standin, url } = await setup(t, { resolver: { type: 'redis', url: 'redis://127.0.0.1:6379', prefix } });
  const connected = connectOf(standin);
  const c = tunnel(url('token=tok-ssh'));
  const info = await connected;
  assert.deepEqual(info.values, { hostname: 'box', port: '22', username: 'carol', password: '', 'private-key': '-----BEGIN KEY-----\nabc\n', 'font-size': '' });
  await c.waitFor('sync');
  // Revoked: closed with 1008 and a status the web client can read (CLIENT_UNAUTHORIZED).
  assert.equal(await revokeToken('redis://127.0.0.1:6379', prefix, 'tok-ssh'), true);
  assert.deepEqual(await c.end, { code: 1008, reason: '769' });
});

test('required/argv pass through; a streamed instruction flood in random chunks arrives whole and exact', { timeout: 30_000 }, async (t) => {
  const STREAM = 3_000_000;
  const { standin, url } = await setup(t, { standin: { required: ['password'], streamBytes: STREAM } });
  const c = tunnel(url('token=tok-vnc'));
  const required = await c.waitFor('required');
  assert.deepEqual(required, ['required', 'password']);
  const argv = once(standin.events, 'argv');
  c.ws.send(instruction('argv', 0, 'text/plain', 'password') + instruction('blob', 0, Buffer.from('typed-pw').toString('base64')) + instruction('end', 0));
  assert.deepEqual((await argv)[0], { name: 'password', value: 'typed-pw' });
  const expected = parseWhole(streamedBytes(STREAM).toString());
  await until(() => c.instructions.length >= 6 + expected.length, { timeoutMs: 20_000, what: 'the whole stream' });
  const afterDrawing = c.instructions.slice(c.instructions.findIndex((i) => i[0] === 'sync') + 1).filter((i) => i[0] !== 'nop');
  assert.deepEqual(afterDrawing.slice(0, expected.length), expected);
  assert.deepEqual(c.problems, []);
  c.ws.close();
  await c.end;
});

test('an idle tunnel gets a nop before the web client would call it unstable (1.5 s)', { timeout: 20_000 }, async (t) => {
  // Half the default interval, so that a loaded machine's timer delays stay far from the client's 1.5 s.
  const { url } = await setup(t, { standin: { nopMs: 60_000 }, route: { nopInterval: 0.5 } });
  const c = tunnel(url('token=tok-vnc'));
  await c.waitFor('sync');
  const from = Date.now();
  await new Promise((r) => setTimeout(r, 3500));
  const times = [from, ...c.arrivals.filter((a) => a >= from), Date.now()];
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  assert.ok(Math.max(...gaps) < 1500, `gaps between messages: ${gaps.join(', ')} ms`);
  assert.ok(c.instructions.filter((i) => i[0] === 'nop').length >= 4);
  c.ws.close();
  await c.end;
});

test('a guacd that resets right after the connect: no crash; a 502, or a tunnel closed with status 515', { timeout: 30_000 }, async (t) => {
  const resetting = await startBackend((socket) => socket.resetAndDestroy());
  t.after(() => resetting.close());
  const { url, gw } = await setup(t, { route: { guacd: `127.0.0.1:${resetting.port}` } });
  for (let i = 0; i < 20; i++) {
    try {
      const ws = await connect(url('token=tok-vnc'), ['guacamole']);
      const end = await closed(ws);
      assert.ok(end.code === 1011 && end.reason === '515', `closed with ${JSON.stringify(end)}`);
    } catch (e) {
      assert.equal((e as { status?: number }).status, 502);
    }
  }
  await sessionsDrained(gw.gateway);
});
