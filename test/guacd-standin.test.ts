// The guacd stand-in as its own program, behind the real wsgate CLI: a
// Guacamole tunnel through `handler: guacamole`, the stand-in reporting the
// browser's key and mouse instructions on stdout. The gateway logs at trace
// level meanwhile, and its log must hold neither the password from the
// store nor the token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { closed, spawnCli, tempDir, until } from './support/index.js';
import { instruction, parseWhole } from './support/guacamole.js';

const STANDIN = fileURLToPath(new URL('./support/guacd-standin.js', import.meta.url));
const PASSWORD = 'pa55-Wörd;,.';
const TOKEN = 'tok-7f3a9c1e';

test('the stand-in as a program behind the CLI: key and mouse reach it; no secret reaches the gateway log', { timeout: 30_000 }, async (t) => {
  const standin = spawn(process.execPath, [STANDIN, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => standin.kill('SIGTERM'));
  let out = '';
  standin.stdout!.on('data', (c) => (out += c));
  await until(() => /^listening \d+$/m.test(out), { timeoutMs: 10_000, what: 'the stand-in listening' });
  const port = Number(/^listening (\d+)$/m.exec(out)![1]);

  const dir = tempDir(t, 'standin');
  const db = new Database(join(dir, 'conns.db'));
  db.exec('CREATE TABLE conns (token TEXT, protocol TEXT, hostname TEXT, port TEXT, password TEXT)');
  db.prepare('INSERT INTO conns VALUES (?, ?, ?, ?, ?)').run(TOKEN, 'vnc', 'desk', '5900', PASSWORD);
  db.close();
  const config = join(dir, 'wsgate.yaml');
  await writeFile(
    config,
    [
      'listen: 127.0.0.1:0',
      'logLevel: trace',
      'routes:',
      '  - path: /guac',
      '    handler: guacamole',
      `    guacd: 127.0.0.1:${port}`,
      '    resolver:',
      '      type: sqlite',
      '      path: conns.db',
      '      query: SELECT * FROM conns WHERE token = ?',
      '',
    ].join('\n'),
  );
  const cli = await spawnCli(['--config', config]);
  t.after(async () => {
    if (cli.child.exitCode === null) cli.child.kill('SIGTERM');
    await cli.exited;
  });

  const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/guac?token=${TOKEN}`, ['guacamole']);
  const received: string[][] = [];
  ws.on('message', (data: Buffer) => received.push(...parseWhole(data.toString())));
  const end = closed(ws);
  await until(() => received.some((i) => i[0] === 'sync'), { timeoutMs: 10_000, what: 'the first frame' });
  ws.send(instruction('key', 65, 1) + instruction('mouse', 3, 4, 1));
  await until(() => out.includes('key ["65","1"]') && out.includes('mouse ["3","4","1"]'), { timeoutMs: 10_000, what: "key and mouse on the stand-in's stdout" });
  const connect = JSON.parse(/^connect (.*)$/m.exec(out)![1]!) as { values: Record<string, string> };
  assert.equal(connect.values.password, PASSWORD, 'the password did reach guacd');
  ws.close(1000);
  await end;
  await until(() => cli.output().includes('"msg":"session closed"'), { timeoutMs: 5000, what: 'the session log line' });
  cli.child.kill('SIGTERM');
  const { stdout, stderr } = await cli.exited;
  const log = stdout + stderr;
  assert.ok(log.includes('guacd handshake done'), 'the handshake was logged');
  assert.ok(!log.includes(PASSWORD) && !log.includes(JSON.stringify(PASSWORD).slice(1, -1)), 'the password is in the gateway log');
  assert.ok(!log.includes(TOKEN), 'the token is in the gateway log');
});
