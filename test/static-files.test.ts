// The web root on the WebSocket port (--web, --novnc): files and only files
// below the root, the right Content-Type, HEAD, 304s, no listings, and
// WebSocket routes before files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildConfig } from '../src/config/build.js';
import { REPO_ROOT, startGateway, connect, closed, rawRequest, pseudoRandom, tempDir, type RunningGateway } from './support/index.js';

const dir = tempDir(after, 'static');
let root = '';
let gw: RunningGateway;
let novnc: RunningGateway;
const BIG = pseudoRandom(5 * 1024 * 1024 + 7, 11);

const FILES: Record<string, string> = {
  'index.html': '<!DOCTYPE html><title>root index</title>',
  'a.html': '<p>a</p>',
  'app.js': 'export const x = 1;',
  'style.css': 'body { color: red }',
  'logo.png': '\x89PNG\r\n\x1a\n',
  'icon.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
  'data.json': '{"a":1}',
  'mod.wasm': '\0asm\x01\0\0\0',
  'echo': 'a file that a WebSocket route shadows',
  '.hidden': 'dot-files are not served',
  'sub2/index.html': '<p>sub2 index</p>',
  'sub/readme.txt': 'sub has no index.html',
};

before(async () => {
  root = join(dir, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(join(root, 'sub2'));
  for (const [name, body] of Object.entries(FILES)) await writeFile(join(root, name), body, 'latin1');
  await writeFile(join(root, 'big.bin'), BIG);
  await writeFile(join(dir, 'secret.txt'), 'SECRET outside the root');
  await symlink(join(dir, 'secret.txt'), join(root, 'link-out'));
  await symlink(dir, join(root, 'dir-out'));
  await symlink(join(root, 'a.html'), join(root, 'link-in.html'));
  gw = await startGateway({ web: root, routes: [{ path: '/echo', handler: 'echo' }, { path: '*', handler: 'echo' }] });
  novnc = await startGateway({ web: { novnc: 'builtin' }, routes: [{ path: '/websockify', handler: 'echo' }] });
});
after(async () => {
  await gw.stop();
  await novnc.stop();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request with the path sent exactly as given (no client-side normalisation). */
async function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) };
}
const get = (path: string, headers?: Record<string, string>) => request(gw.port, path, { headers });

test('files are served with their bytes, length and MIME type', { timeout: 10_000 }, async () => {
  const types: Record<string, string> = {
    'a.html': 'text/html; charset=utf-8',
    'app.js': 'text/javascript; charset=utf-8',
    'style.css': 'text/css; charset=utf-8',
    'logo.png': 'image/png',
    'icon.svg': 'image/svg+xml',
    'data.json': 'application/json',
    'mod.wasm': 'application/wasm',
    'sub/readme.txt': 'text/plain; charset=utf-8',
  };
  for (const [name, type] of Object.entries(types)) {
    const r = await get(`/${name}`);
    assert.equal(r.status, 200, name);
    assert.equal(r.headers['content-type'], type, name);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.deepEqual(r.body, Buffer.from(FILES[name]!, 'latin1'), name);
    assert.equal(Number(r.headers['content-length']), r.body.length, name);
  }
  const big = await get('/big.bin');
  assert.equal(big.headers['content-type'], 'application/octet-stream');
  assert.ok(big.body.equals(BIG), 'a 5 MiB file arrives whole');
});

test('traversal is refused: encoded "..", symlinks out of the root, NUL bytes, dot-files', { timeout: 10_000 }, async () => {
  const attempts = [
    '/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/sub/..%2f..%2fsecret.txt',
    '/sub/%2E%2E%2F%2E%2E%2Fsecret.txt', '/..%5csecret.txt', '/link-out', '/dir-out/secret.txt', '/a.html%00.png', '/%00',
    '/.hidden', '/%2ehidden', '/sub/%2e%2e/.hidden', '/%ff%fe', '//etc/passwd', '/sub/../../secret.txt', '/sub/..%2f..',
  ];
  for (const path of attempts) {
    const r = await get(path);
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
    assert.ok(!r.body.toString().includes('SECRET') && !r.body.toString().includes('dot-files'), `${path} leaked a file`);
  }
  // The same paths on a raw socket, so that no client library tidies them first.
  for (const path of ['/../secret.txt', '/..%2f..%2fsecret.txt', '/%2e%2e/%2e%2e/secret.txt']) {
    const text = await rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 (404|400) /, path);
    assert.doesNotMatch(text, /SECRET/);
  }
  // A symlink that stays inside the root is followed.
  assert.equal((await get('/link-in.html')).body.toString(), FILES['a.html']);
});

test('HEAD answers the headers of GET without a body', { timeout: 10_000 }, async () => {
  const text = await rawRequest(gw.port, 'HEAD /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const [head, body] = text.split('\r\n\r\n');
  assert.match(head!, /^HTTP\/1\.1 200 /);
  assert.match(head!, /\r\nContent-Type: text\/css; charset=utf-8\r\n/i);
  assert.match(head!, new RegExp(`\r\nContent-Length: ${FILES['style.css']!.length}\r\n`, 'i'));
  assert.match(head!, /\r\nETag: /i);
  assert.equal(body, '');
});

test('conditional GET: If-None-Match and If-Modified-Since give 304', { timeout: 10_000 }, async () => {
  const first = await get('/app.js');
  const etag = first.headers.etag!;
  const lastModified = first.headers['last-modified']!;
  assert.ok(etag && lastModified);
  const same = await get('/app.js', { 'If-None-Match': etag });
  assert.equal(same.status, 304);
  assert.equal(same.body.length, 0);
  assert.equal(same.headers.etag, etag);
  assert.equal((await get('/app.js', { 'If-None-Match': `"other", ${etag}` })).status, 304);
  assert.equal((await get('/app.js', { 'If-None-Match': '"other"' })).status, 200);
  assert.equal((await get('/app.js', { 'If-Modified-Since': lastModified })).status, 304);
  assert.equal((await get('/app.js', { 'If-Modified-Since': new Date(Date.parse(lastModified) - 60_000).toUTCString() })).status, 200);
  // If-None-Match decides when both are sent (RFC 9110 §13.2.2).
  assert.equal((await get('/app.js', { 'If-None-Match': '"other"', 'If-Modified-Since': lastModified })).status, 200);
  // The noVNC client's pages have validators too.
  const page = await request(novnc.port, '/vnc.html');
  assert.equal((await request(novnc.port, '/vnc.html', { headers: { 'If-None-Match': page.headers.etag! } })).status, 304);
});

test('directories: index.html if present, else 404 (never a listing); "/dir" redirects to "/dir/"', { timeout: 10_000 }, async () => {
  assert.equal((await get('/')).body.toString(), FILES['index.html']);
  assert.equal((await get('/sub2/')).body.toString(), FILES['sub2/index.html']);
  const noIndex = await get('/sub/');
  assert.equal(noIndex.status, 404);
  assert.doesNotMatch(noIndex.body.toString(), /readme/);
  const redirect = await get('/sub2?x=1');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, '/sub2/?x=1');
  assert.equal((await get('/a.html/')).status, 404);
  assert.equal((await get('/missing.html')).status, 404, 'a missing file is 404 even under the catch-all route');
  const post = await request(gw.port, '/a.html', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
});

test('WebSocket routes win: a route path is WebSocket only, and every upgrade goes to its route', { timeout: 10_000 }, async () => {
  const plain = await get('/echo');
  assert.equal(plain.status, 426, 'the /echo route, not the file named "echo"');
  for (const path of ['/echo', '/a.html']) {
    const ws = await connect(gw.url(path));
    ws.send(`via ${path}`);
    const [data] = await once(ws, 'message');
    assert.equal(String(data), `via ${path}`);
    ws.close(1000);
    await closed(ws);
  }
});

test('--novnc: wsgate serves its noVNC client and the @novnc/novnc package', { timeout: 10_000 }, async () => {
  for (const path of ['/vnc.html', '/']) {
    const page = await request(novnc.port, path);
    assert.equal(page.status, 200, path);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(page.body.toString(), /<script type="module" src="client\/vnc\.js">/);
  }
  const client = await request(novnc.port, '/client/connection.js');
  assert.equal(client.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.match(client.body.toString(), /import RFB from '\.\.\/core\/rfb\.js'/);
  const rfb = await request(novnc.port, '/core/rfb.js');
  assert.equal(rfb.status, 200);
  assert.equal(rfb.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.match(rfb.body.toString(), /export default class RFB/);
  assert.equal((await request(novnc.port, '/vendor/pako/lib/zlib/inflate.js')).status, 200);
  assert.equal((await request(novnc.port, '/websockify')).status, 426);
});

test('web: a missing directory stops startup naming the field', () => {
  assert.throws(
    () => buildConfig({ web: join(dir, 'nope'), routes: [{ path: '/e', handler: 'echo' }] }, () => 'gw.yaml:3', REPO_ROOT),
    (e: Error) => e.message === `gw.yaml:3: web: ${join(dir, 'nope')} is not a directory`,
  );
});
