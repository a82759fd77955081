// --sessions-path in one process: the live sessions as JSON (the path, never
// the query), and nothing served there without the option. (Across
// --workers, and who may read the list: processes.test.ts, unit/session-list.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect, spawnCli, startBackend, REPO_ROOT } from './support/index.js';

interface Listed {
  sessions: Array<{ id: string; pid: number; worker?: number; route: string; path: string; remote: string; target: string; bytesIn: number; messagesIn: number }>;
}

function getJson<T>(port: number, path: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: (res.headers['content-type']?.startsWith('application/json') ? JSON.parse(body) : body) as T }));
      })
      .on('error', reject);
  });
}

test('--sessions-path in one process; without it the path is not served', { timeout: 20_000 }, async (t) => {
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const cli = await spawnCli(['--sessions-path', '/admin/sessions', '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => cli.child.kill('SIGKILL'));
  const a = await connect(`ws://127.0.0.1:${cli.port}/x`, 'binary');
  t.after(() => a.terminate());
  const { status, body } = await getJson<Listed>(cli.port, '/admin/sessions');
  assert.equal(status, 200);
  assert.equal(body.sessions.length, 1);
  assert.equal(body.sessions[0]!.worker, undefined);
  assert.equal(body.sessions[0]!.path, '/x');
  const plain = await spawnCli(['--web', REPO_ROOT + 'docs', '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => plain.child.kill('SIGKILL'));
  assert.equal((await getJson(plain.port, '/sessions')).status, 404);
});
