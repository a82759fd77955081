// The Origin check on real sockets: same-host (the default), same, trusted
// lists with wildcards, off; no Origin allowed unless required; a refusal is
// 403 before the 101 in every refusal mode, with the origin in the log;
// static files are not affected; websockify's ExpectOrigin and --origin on
// the real CLI.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import { handshakeStatus, sessionsDrained, spawnCli, startGateway, tempDir, until } from './support/index.js';
import { health } from './support/edge.js';

const dir = tempDir(after, 'origin');

async function statuses(raw: Record<string, unknown>, origins: Array<string | undefined>): Promise<number[]> {
  const gw = await startGateway(raw);
  try {
    const out: number[] = [];
    for (const o of origins) out.push(await handshakeStatus(gw.url('/e'), undefined, o === undefined ? {} : { origin: o.replace('PORT', String(gw.port)) }));
    await sessionsDrained(gw.gateway);
    assert.equal((await health(gw.port)).status, 200);
    return out;
  } finally {
    await gw.stop();
  }
}

const echo = (extra: Record<string, unknown> = {}) => ({ routes: [{ path: '/e', handler: 'echo', ...extra }] });

test('same-host (the default): an Origin naming the host the client connected to, on any port; other hosts 403', async () => {
  assert.deepEqual(
    await statuses(echo(), ['http://127.0.0.1:PORT', 'http://127.0.0.1:1', 'https://127.0.0.1', 'http://localhost:PORT', 'https://evil.example', 'null', undefined]),
    [101, 101, 101, 403, 403, 403, 101],
  );
});

test('same: scheme, host and port as the client addressed the gateway', async () => {
  assert.deepEqual(
    await statuses(echo({ origin: 'same' }), ['http://127.0.0.1:PORT', 'http://127.0.0.1:1', 'https://127.0.0.1:PORT', 'http://localhost:PORT', undefined]),
    [101, 403, 403, 403, 101],
  );
});

test('a trusted list: exact origins (default port implied) and subdomain wildcards; off allows any', async () => {
  const list = { origin: ['https://app.example.com', 'http://tools.example.com:8080', 'https://*.example.org'] };
  assert.deepEqual(
    await statuses(echo(list), [
      'https://app.example.com',
      'https://app.example.com:443',
      'https://APP.example.com',
      'http://app.example.com',
      'https://app.example.com:8443',
      'http://tools.example.com:8080',
      'https://a.example.org',
      'https://a.b.example.org',
      'https://example.org',
      'https://a.example.org.evil.example',
      'http://127.0.0.1:PORT',
      undefined,
    ]),
    [101, 101, 101, 403, 403, 101, 101, 101, 403, 403, 403, 101],
  );
  assert.deepEqual(await statuses(echo({ origin: 'off' }), ['https://evil.example', 'null', undefined]), [101, 101, 101]);
});

test('originRequired refuses handshakes without an Origin; a route overrides the top level', async () => {
  assert.deepEqual(await statuses({ originRequired: true, ...echo() }, [undefined, 'http://127.0.0.1:PORT']), [403, 101]);
  assert.deepEqual(await statuses({ origin: 'off', ...echo({ origin: 'same-host' }) }, ['https://evil.example']), [403]);
});

test('an Origin refusal stays 403 on a close-mode route; static files are served whatever the Origin', async () => {
  const web = join(dir, 'web');
  await import('node:fs/promises').then((fs) => fs.mkdir(web));
  await writeFile(join(web, 'page.html'), 'hello');
  const gw = await startGateway({ web, routes: [{ path: '/e', handler: 'echo', refuse: 'close' }] });
  try {
    assert.equal(await handshakeStatus(gw.url('/e'), undefined, { origin: 'https://evil.example' }), 403);
    const status = await new Promise<number>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port: gw.port, path: '/page.html', headers: { Origin: 'https://evil.example' } }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject),
    );
    assert.equal(status, 200);
  } finally {
    await gw.stop();
  }
});

test('the real CLI: --origin LIST, and websockify --auth-plugin ExpectOrigin --auth-source (an Origin is then required); refusals name the origin', async (t) => {
  const cli = await spawnCli(['--origin', 'https://a.example,https://*.b.example', '127.0.0.1:0', '127.0.0.1:9']);
  t.after(() => cli.child.kill('SIGKILL'));
  // Port 9 (discard) is closed on loopback: an accepted handshake gets as far as the dial, which fails; refused
  // by default as `refuse: auto` does, with the 101 and a close frame for a browser (an Origin), 502 otherwise.
  // A refused origin stops at 403 before that.
  const at = (o?: string) => handshakeStatus(`ws://127.0.0.1:${cli.port}/`, undefined, o ? { origin: o } : {});
  assert.deepEqual([await at('https://a.example'), await at('https://x.b.example'), await at('https://c.example'), await at()], [101, 101, 403, 502]);
  await until(() => cli.output().includes('"origin":"https://c.example"'), { timeoutMs: 5000, what: () => `no refusal naming the origin in: ${cli.output()}` });
  assert.match(cli.output(), /"status":403,"reason":"origin not allowed \(not a trusted origin\)","origin":"https:\/\/c\.example"/);

  const ws = await spawnCli(['--auth-plugin', 'ExpectOrigin', '--auth-source', 'https://a.example https://b.example', '127.0.0.1:0', '127.0.0.1:9']);
  t.after(() => ws.child.kill('SIGKILL'));
  const wat = (o?: string) => handshakeStatus(`ws://127.0.0.1:${ws.port}/`, undefined, o ? { origin: o } : {});
  assert.deepEqual([await wat('https://a.example'), await wat('https://b.example'), await wat('https://c.example'), await wat()], [101, 101, 403, 403]);
  assert.equal((await health(ws.port)).body.status, 'ok');
});
