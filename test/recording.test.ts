// Session recording: what a tcp-proxy route records, read back the way its
// players read it. The noVNC (websockify) format is evaluated as the script
// noVNC's playback page loads (node:vm), each frame decoded and compared by
// sha256 with what was really sent, in order, both ways; the same through
// gzip; without inputs; websockify's --record FILE naming; and a full disk
// (a 1 MiB tmpfs) that cuts the recording but not the session.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { REPO_ROOT, runCli, startGateway, startBackend, spawnCli, pseudoRandom, seededSizes, sessionsDrained, sha256, tempDir, until, closed } from './support/index.js';
import { novncFrame, parseNovncEntry, type NovncFrame } from '../src/proxy/recording/novnc-format.js';

/** A backend that greets with `greeting` random bytes, then echoes everything. */
async function echoBackend(t: TestContext, greeting: Buffer) {
  const backend = await startBackend((socket) => {
    socket.write(greeting);
    socket.pipe(socket);
  });
  t.after(() => backend.close());
  return backend;
}

interface Sent {
  /** Each message the client sent, in order. */
  up: Buffer[];
  /** Everything the client received, in order. */
  down: Buffer;
}

/** One session: `count` random messages up, waits for the greeting and every echo, closes. */
async function session(url: string, greeting: number, count: number, seed: number): Promise<Sent> {
  const ws = new WebSocket(url, ['binary']);
  const got: Buffer[] = [];
  let received = 0;
  ws.on('message', (data: Buffer) => {
    got.push(data);
    received += data.length;
  });
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const size = seededSizes(seed, 48 * 1024);
  const up: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const msg = pseudoRandom(size() + 1, seed * 1000 + i);
    up.push(msg);
    ws.send(msg);
  }
  const expected = greeting + up.reduce((n, b) => n + b.length, 0);
  await until(() => received >= expected, { timeoutMs: 15_000, what: () => `received ${received} of ${expected} bytes` });
  const done = closed(ws);
  ws.close(1000);
  await done;
  return { up, down: Buffer.concat(got) };
}

/** The recording as noVNC's playback page gets it: the script's VNC_frame_data, taken apart. */
function loadNovnc(text: string): { entries: string[]; frames: NovncFrame[] } {
  assert.ok(text.startsWith('var VNC_frame_data = [\n'), text.slice(0, 40));
  assert.ok(text.endsWith("'EOF'];\n"), text.slice(-40));
  const context: { VNC_frame_data?: string[] } = {};
  vm.runInNewContext(text, context);
  const entries = context.VNC_frame_data!;
  assert.equal(entries.at(-1), 'EOF');
  for (const e of entries) assert.equal(typeof e, 'string');
  return { entries, frames: entries.map(parseNovncEntry).filter((f): f is NovncFrame => f !== null) };
}

/** The recorded frames against what was sent: client frames one by one, server bytes as one stream. */
function assertMatches(frames: NovncFrame[], sent: Sent, inputs = true): void {
  const fromClient = frames.filter((f) => !f.toClient);
  if (inputs) {
    assert.equal(fromClient.length, sent.up.length);
    fromClient.forEach((f, i) => assert.equal(sha256(f.data), sha256(sent.up[i]!), `client frame ${i}`));
  } else assert.equal(fromClient.length, 0, 'no client frames without inputs');
  const toClient = Buffer.concat(frames.filter((f) => f.toClient).map((f) => f.data));
  assert.equal(toClient.length, sent.down.length);
  assert.equal(sha256(toClient), sha256(sent.down));
  // Times never go backwards, and an echo is never recorded before the client's message it echoes.
  for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.ms >= frames[i - 1]!.ms, `frame ${i} at ${frames[i]!.ms} ms after ${frames[i - 1]!.ms} ms`);
  if (inputs) {
    let up = 0;
    let down = 0;
    const greeting = sent.down.length - sent.up.reduce((n, b) => n + b.length, 0);
    for (const f of frames) {
      if (f.toClient) down += f.data.length;
      else up += f.data.length;
      assert.ok(down <= greeting + up, 'an echo recorded before what it echoes');
    }
  }
}

test('--record FILE: FILE.1, FILE.2, one per session, mode 0600, in the noVNC format, byte-exact both ways', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'record');
  const greeting = pseudoRandom(100_000, 7);
  const backend = await echoBackend(t, greeting);
  const cli = await spawnCli(['--record', join(dir, 'rec'), '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => (cli.child.kill('SIGTERM'), cli.exited));
  const url = `ws://127.0.0.1:${cli.port}/websockify`;
  const first = await session(url, greeting.length, 40, 1);
  const second = await session(url, greeting.length, 25, 2);
  for (const [n, sent] of [[1, first], [2, second]] as const) {
    const file = join(dir, `rec.${n}`);
    await until(() => readFileSync(file, 'latin1').endsWith("'EOF'];\n"), { timeoutMs: 5000, what: `${file} complete` });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'latin1');
    assert.match(text, /^[\x20-\x7e\n]*$/, 'the file is ASCII');
    assert.ok(sent.down.subarray(0, greeting.length).equals(greeting));
    assertMatches(loadNovnc(text).frames, sent);
  }
  assert.deepEqual(readdirSync(dir).sort(), ['rec.1', 'rec.2']);
});

test('the noVNC format escapes as websockify does: every byte value, quotes and backslashes', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const line = novncFrame(true, 12, all).toString('latin1');
  // Python: bytes(range(256)).decode('latin1').encode('unicode_escape').decode('ascii').replace("'", "\\'")
  const python = String.raw`\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_` + '`' + String.raw`abcdefghijklmnopqrstuvwxyz{|}~\x7f` +
    Array.from({ length: 128 }, (_, i) => `\\x${(i + 128).toString(16)}`).join('');
  assert.equal(line, `'{12{${python}',\n`);
  const entry = vm.runInNewContext(line.slice(0, -2)) as string;
  assert.ok(parseNovncEntry(entry)!.data.equals(all));
});

test('record: { dir, gzip } writes <time>-<session id>.js.gz; inputs: false leaves the client out', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'record-dir');
  const greeting = pseudoRandom(50_000, 9);
  const backend = await echoBackend(t, greeting);
  const gw = await startGateway({
    routes: [
      { path: '/gz', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, record: { dir: join(dir, 'gz'), format: 'novnc', inputs: true, gzip: true } },
      { path: '/quiet', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, record: { dir: join(dir, 'quiet') } },
    ],
  });
  t.after(() => gw.stop());
  const gz = await session(gw.url('/gz'), greeting.length, 30, 3);
  const quiet = await session(gw.url('/quiet'), greeting.length, 10, 4);
  await sessionsDrained(gw.gateway);
  const [gzName] = readdirSync(join(dir, 'gz'));
  assert.match(gzName!, /^\d{8}T\d{6}Z-[A-Za-z0-9_-]{8}\.js\.gz$/);
  assert.equal(statSync(join(dir, 'gz')).mode & 0o777, 0o700);
  const gzFile = join(dir, 'gz', gzName!);
  await until(() => { try { return gunzipSync(readFileSync(gzFile)).toString('latin1').endsWith("'EOF'];\n"); } catch { return false; } }, { timeoutMs: 5000, what: 'the gzip file complete' });
  assertMatches(loadNovnc(gunzipSync(readFileSync(gzFile)).toString('latin1')).frames, gz);
  const [quietName] = readdirSync(join(dir, 'quiet'));
  const quietFile = join(dir, 'quiet', quietName!);
  await until(() => readFileSync(quietFile, 'latin1').endsWith("'EOF'];\n"), { timeoutMs: 5000, what: 'the file complete' });
  assertMatches(loadNovnc(readFileSync(quietFile, 'latin1')).frames, quiet, false);
});

test('a disk that does not keep up (maxBuffer reached) cuts the recording, not the session', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'record-slow');
  const greeting = pseudoRandom(300_000, 13);
  const backend = await echoBackend(t, greeting);
  const gw = await startGateway({ routes: [{ path: '*', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, record: { dir, inputs: true, maxBuffer: '16KiB' } }] });
  t.after(() => gw.stop());
  const sent = await session(gw.url('/'), greeting.length, 20, 8);
  assert.equal(sha256(sent.down), sha256(Buffer.concat([greeting, ...sent.up])));
  await sessionsDrained(gw.gateway);
  const [name] = readdirSync(dir);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const text = readFileSync(join(dir, name!), 'latin1');
  // Cut at its first big frame: what was queued (perhaps even the header) is dropped.
  assert.ok(text.startsWith('var VNC_frame_data = [\n') || 'var VNC_frame_data = [\n'.startsWith(text), text.slice(0, 40));
  assert.ok(!text.endsWith("'EOF'];\n"), 'the recording was cut');
  assert.ok(text.length < 300_000, `${text.length} bytes recorded`);
});

test('a full disk cuts the recording (a log line says why), never the session: it stays byte-exact', { timeout: 60_000 }, async (t) => {
  // Not tempDir(): the tmpfs must be unmounted before its directory goes, after the gateway has stopped.
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-record-full-'));
  const disk = join(dir, 'disk');
  mkdirSync(disk);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', disk], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true });
    t.skip(`cannot mount a tmpfs (needs root): ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    execFileSync('umount', [disk]);
    rmSync(dir, { recursive: true });
  });
  const greeting = pseudoRandom(200_000, 11);
  const backend = await startBackend((socket) => (socket.write(greeting), socket.pipe(socket)));
  cleanups.push(() => backend.close());
  const cli = await spawnCli(['--record', join(disk, 'rec'), '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  cleanups.push(() => (cli.child.kill('SIGTERM'), cli.exited));
  // About 2 MiB each way becomes over 10 MiB of recording: far past the disk.
  const sent = await session(`ws://127.0.0.1:${cli.port}/`, greeting.length, 90, 5);
  const echoed = Buffer.concat(sent.up);
  assert.equal(sha256(sent.down), sha256(Buffer.concat([greeting, echoed])));
  await until(() => /"msg":"recording cut"/.test(cli.output()), { timeoutMs: 5000, what: 'the "recording cut" line' });
  const line = cli.output().split('\n').find((l) => l.includes('"recording cut"'))!;
  assert.match(line, /ENOSPC/);
  assert.match(line, /"file":"[^"]*rec\.1"/);
  assert.ok(statSync(join(disk, 'rec.1')).size <= 1024 * 1024);
  // The gateway goes on, and the next session records again (the disk is still full: cut again).
  const again = await session(`ws://127.0.0.1:${cli.port}/`, greeting.length, 3, 6);
  assert.equal(again.down.length, greeting.length + again.up.reduce((n, b) => n + b.length, 0));
});

test('a Guacamole route (framing: guacamole) records guacd\'s instructions, and with inputs the client\'s key and mouse', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'record-guac');
  const ins = (...parts: string[]) => parts.map((p) => `${[...p].length}.${p}`).join(',') + ';';
  const down = [ins('size', '0', '800', '600'), ins('name', 'désk 😀'), ins('sync', '1')];
  const up = [ins('key', '65', '1'), ins('', 'ping', '17'), ins('mouse', '1', '2', '0'), ins('clipboard', '1', 'text/plain')];
  const backend = await startBackend((socket) => {
    socket.write(down.join(''));
    socket.resume();
  });
  t.after(() => backend.close());
  const gw = await startGateway({ routes: [{ path: '/guac', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, framing: 'guacamole', record: { dir, inputs: true } }] });
  t.after(() => gw.stop());
  const ws = new WebSocket(gw.url('/guac'), ['guacamole']);
  let got = '';
  ws.on('message', (m: Buffer) => (got += m.toString()));
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  for (const u of up) ws.send(u);
  await until(() => got.includes(ins('sync', '1')) && got.includes('4.ping'), { timeoutMs: 5000, what: () => `got ${got}` });
  ws.close(1000);
  await sessionsDrained(gw.gateway);
  // The file is opened asynchronously (a recording never blocks the relay): wait for it.
  const name = await until(() => readdirSync(dir)[0], { timeoutMs: 5000, what: 'the recording file' });
  assert.match(name, /\.guac$/);
  const file = join(dir, name);
  const expected = down.join('') + ins('key', '65', '1') + ins('mouse', '1', '2', '0');
  await until(() => readFileSync(file, 'utf8').length >= expected.length, { timeoutMs: 5000, what: () => `the recording written: ${JSON.stringify(readFileSync(file, 'utf8'))}` });
  const text = readFileSync(file, 'utf8');
  // Each direction in its own order; guacd's instructions all, the client's key and mouse only.
  assert.equal(text.replace(ins('key', '65', '1'), '').replace(ins('mouse', '1', '2', '0'), ''), down.join(''));
  assert.ok(text.includes(ins('key', '65', '1')) && text.includes(ins('mouse', '1', '2', '0')));
});

test('wsgate replay: every client gets the recorded server bytes, exactly and in order; usage errors exit 2', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'replay');
  const greeting = pseudoRandom(80_000, 21);
  const backend = await echoBackend(t, greeting);
  const gw = await startGateway({ routes: [{ path: '*', handler: 'tcp-proxy', target: `127.0.0.1:${backend.port}`, record: { dir, gzip: true } }] });
  t.after(() => gw.stop());
  const sent = await session(gw.url('/'), greeting.length, 20, 22);
  await sessionsDrained(gw.gateway);
  const file = join(dir, readdirSync(dir)[0]!);
  await until(() => { try { return gunzipSync(readFileSync(file)).toString('latin1').endsWith("'EOF'];\n"); } catch { return false; } }, { timeoutMs: 5000, what: 'the recording complete' });
  const replay = await spawnCli(['replay', file, '--port', '0', '--speed', '0', '--close-at-end']);
  t.after(() => (replay.child.kill('SIGTERM'), replay.exited));
  for (let client = 0; client < 2; client++) {
    const ws = new WebSocket(`ws://127.0.0.1:${replay.port}/`, ['binary']);
    const got: Buffer[] = [];
    ws.on('message', (m: Buffer) => got.push(m));
    ws.on('open', () => ws.send('ignored'));
    const end = await closed(ws);
    assert.equal(end.code, 1000);
    assert.equal(sha256(Buffer.concat(got)), sha256(sent.down), `client ${client}`);
  }
  const noFile = await runCli(['replay', '--port', '0']);
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /give one recording FILE/);
  const notRecording = await runCli(['replay', join(REPO_ROOT, 'package.json'), '--port', '0']);
  assert.equal(notRecording.code, 2);
  assert.match(notRecording.stderr, /not a recording/);
  const help = await runCli(['replay', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: wsgate replay FILE --port PORT/);
});
