// Under a service manager: socket activation (systemd-socket-activate holds
// the port and execs wsgate on the first connection), sd_notify through
// $NOTIFY_SOCKET (READY=1, RELOADING=1 then READY=1 on SIGHUP, WATCHDOG=1,
// STOPPING=1; received by a Unix datagram socket in python3), and
// --log-file opened again on SIGUSR1 (logrotate), in one process and under --workers.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, closed, connect, tempDir, until } from './support/index.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function config(dir: string): string {
  const file = join(dir, 'wsgate.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:0\nroutes:\n  - path: /echo\n    handler: echo\n');
  return file;
}

function track(t: TestContext, child: ChildProcess): { output: () => string } {
  let out = '';
  child.stdout?.on('data', (c) => (out += c));
  child.stderr?.on('data', (c) => (out += c));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { output: () => out };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function echoOnce(url: string): Promise<void> {
  const ws = await connect(url);
  const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  ws.send('ping');
  assert.equal(await reply, 'ping');
  ws.close(1000);
  await closed(ws);
}

test('socket activation: systemd-socket-activate holds the port, wsgate serves on fd 3', { timeout: 30_000, skip: has('systemd-socket-activate') ? false : 'systemd-socket-activate is not installed (Debian package systemd)' }, async (t) => {
  const dir = tempDir(t, 'activate');
  for (const workers of ['1', '2']) {
    const port = await freePort();
    const child = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, process.execPath, BIN, '--config', config(dir), '--workers', workers], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { output } = track(t, child);
    await until(() => output().includes(`Listening on 127.0.0.1:${port}`), { timeoutMs: 10_000, what: () => output() });
    // The first connection starts wsgate; it waits in the socket's backlog meanwhile.
    await echoOnce(`ws://127.0.0.1:${port}/echo`);
    assert.match(output(), new RegExp(`"port":${port}\\}[^\\n]*"msg":"listening"`));
    await echoOnce(`ws://127.0.0.1:${port}/echo`);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
  }
});

test('sd_notify: READY=1 with MAINPID, RELOADING=1 and READY=1 on SIGHUP, WATCHDOG=1, STOPPING=1', { timeout: 30_000, skip: has('systemd-notify') && has('python3') ? false : 'systemd-notify or python3 is not installed' }, async (t) => {
  const dir = tempDir(t, 'notify');
  const socket = join(dir, 'notify.sock');
  const receiver = spawn('python3', ['-u', '-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound")\nwhile True: print(s.recv(4096).decode().replace("\\n","|"))', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  const got = track(t, receiver);
  await until(() => got.output().includes('bound'), { timeoutMs: 10_000, what: () => got.output() });
  const child = spawn(process.execPath, [BIN, '--config', config(dir)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '1000000' } });
  const wsgate = track(t, child);
  await until(() => got.output().includes(`MAINPID=${child.pid}|READY=1`), { timeoutMs: 10_000, what: () => got.output() + wsgate.output() });
  await until(() => got.output().includes(`MAINPID=${child.pid}|WATCHDOG=1`), { timeoutMs: 5_000, what: () => got.output() });
  child.kill('SIGHUP');
  await until(() => /RELOADING=1\|MONOTONIC_USEC=\d+/.test(got.output()) && got.output().split('READY=1').length >= 3, { timeoutMs: 10_000, what: () => got.output() });
  assert.ok(got.output().indexOf('RELOADING=1') < got.output().lastIndexOf('READY=1'));
  child.kill('SIGTERM');
  await until(() => got.output().includes('STOPPING=1'), { timeoutMs: 10_000, what: () => got.output() });
  assert.equal(await exited(child), 0);
  receiver.kill();
});

for (const workers of ['1', '2']) {
  test(`--log-file: lines go to the file; SIGUSR1 opens it again after logrotate moved it (--workers ${workers})`, { timeout: 30_000 }, async (t) => {
    const dir = tempDir(t, 'logfile');
    const log = join(dir, 'wsgate.log');
    const child = spawn(process.execPath, [BIN, '--config', config(dir), '--log-file', log, '--workers', workers], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { output } = track(t, child);
    const text = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
    const readyLines = workers === '1' ? 1 : 2;
    await until(() => (text().match(/"msg":"route ready"/g) ?? []).length >= readyLines && /"msg":"listening"/.test(text()), { timeoutMs: 10_000, what: () => text() + output() });
    assert.equal(output(), '');
    const port = Number(/"port":(\d+)\}[^\n]*"msg":"listening"/.exec(text())![1]);
    renameSync(log, `${log}.1`);
    child.kill('SIGUSR1');
    await until(() => existsSync(log), { timeoutMs: 5_000, what: 'the log file opened again' });
    const moved = readFileSync(`${log}.1`, 'utf8');
    await echoOnce(`ws://127.0.0.1:${port}/echo`);
    await until(() => text().includes('"msg":"session closed"'), { timeoutMs: 5_000, what: () => text() });
    assert.equal(readFileSync(`${log}.1`, 'utf8'), moved);
    for (const line of text().trim().split('\n')) JSON.parse(line);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
  });
}
