// The cluster hand-off over real loopback sockets: the gateway against a
// version 1 proxy written from the specification, against wsgate's own
// proxy (v1 and v2), a version 1 gateway written from the specification
// against the real `wsgate cluster-proxy` CLI, and every refusal: tampering,
// replay, stale timestamps, bad framing, timeouts, sizes, the allowlist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { closed, connect, handshakeStatus, spawnCli, until } from './support/index.js';
import { SECRET, echoNode, logLines, loggedClusterProxy, loggedGateway, readExactly, specGatewayV1, specProxyV1, vncDatabase, workdir } from './support/cluster.js';
import { encodeFrame, GATEWAY_MAGIC, PROXY_MAGIC } from '../src/proxy/cluster-handoff/frame.js';
import { Secret } from '../src/proxy/cluster-handoff/secret.js';
import { encodeV2Document, decodeResult } from '../src/proxy/cluster-handoff/v2.js';
import { encodeV1Document, v1Hash } from '../src/proxy/cluster-handoff/v1.js';

async function echoOnce(url: string, text = 'hello through the cluster'): Promise<string> {
  const ws = await connect(url);
  ws.send(text);
  const [data] = await once(ws, 'message');
  ws.close();
  await closed(ws);
  return String(data);
}

function route(resolver: Record<string, unknown>, handoff: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { path: '/vnc', handler: 'tcp-proxy', resolver, clusterHandoff: handoff, ...extra };
}

test('v1: a cluster proxy written from the specification accepts what the gateway sends (column order, escaping, key)', { timeout: 20_000 }, async (t) => {
  const { dir, secretFile } = workdir(t);
  const spec = await specProxyV1(t, SECRET);
  const resolver = vncDatabase(dir, [{ key: 'k-1', nodehost: '10.0.0.5', nodeport: 5901, connecthost: '127.0.0.1', connectport: spec.port, note: 'a&b <c> "d"' }]);
  const gw = await loggedGateway(t, dir, [route(resolver, { version: 1, secretFile })]);
  assert.equal(await echoOnce(gw.url('/vnc?key=k-1')), 'hello through the cluster');
  assert.equal(spec.documents.length, 1);
  const [doc] = spec.documents;
  assert.equal(doc!.valid, true, 'the hash matches');
  assert.equal(doc!.key, 'k-1');
  assert.deepEqual(doc!.params, [['nodehost', '10.0.0.5'], ['nodeport', '5901'], ['connecthost', '127.0.0.1'], ['connectport', String(spec.port)], ['note', 'a&b <c> "d"']]);
  assert.doesNotMatch(readFileSync(gw.log, 'utf8'), new RegExp(SECRET), 'the secret is not in the gateway log');
});

test('v1 and v2: the gateway through wsgate cluster-proxy to a node, the session list and logs without the secret', { timeout: 20_000 }, async (t) => {
  const { dir, secretFile } = workdir(t);
  const node = await echoNode(t);
  const proxy = await loggedClusterProxy(t, dir, { allow: [`127.0.0.1:${node.port}`] });
  const resolver = vncDatabase(dir, [{ key: 'k1', nodehost: '127.0.0.1', nodeport: node.port, connecthost: '127.0.0.1', connectport: proxy.port }]);
  const gw = await loggedGateway(t, dir, [
    route(resolver, { version: 1, secretFile }),
    { ...route(resolver, { version: 2, secretFile }), path: '/vnc2' },
  ]);
  assert.equal(await echoOnce(gw.url('/vnc?key=k1'), 'one'), 'one');
  assert.equal(await echoOnce(gw.url('/vnc2?key=k1'), 'two'), 'two');
  // A session stays open: the session list does not show the secret either.
  const ws = await connect(gw.url('/vnc2?key=k1'));
  t.after(() => ws.terminate());
  assert.doesNotMatch(JSON.stringify([...gw.gateway.registry].map((s) => ({ ...s.meta, target: s.target, params: s.params }))), new RegExp(SECRET));
  ws.close();
  await closed(ws);
  await until(() => logLines(proxy.log).filter((l) => l.msg === 'connection closed').length === 3, { timeoutMs: 5000, what: 'three closed lines' });
  const lines = logLines(proxy.log);
  const opened = lines.filter((l) => l.msg === 'connection open');
  assert.deepEqual(opened.map((l) => l.version), [1, 2, 2]);
  const closedLines = lines.filter((l) => l.msg === 'connection closed');
  assert.deepEqual(closedLines.slice(0, 2).map((l) => [l.toNode, l.fromNode]), [[3, 3], [3, 3]]);
  assert.equal(opened[0]!.node, `127.0.0.1:${node.port}`);
  assert.match(String(opened[0]!.key), /^[0-9a-f]{12}$/, 'the key as a fingerprint');
  for (const file of [proxy.log, gw.log]) {
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, new RegExp(SECRET), file);
    assert.doesNotMatch(text, /"k1"/, 'nor the whole key');
  }
});

test('v1: a gateway written from the specification is accepted by the real `wsgate cluster-proxy`; a node outside --allow is refused', { timeout: 20_000 }, async (t) => {
  const { secretFile } = workdir(t);
  const node = await echoNode(t);
  const other = await echoNode(t);
  const cli = await spawnCli(['cluster-proxy', '--listen', '127.0.0.1:0', '--secret-file', secretFile, '--allow', `127.0.0.1:${node.port}`, '--versions', '1', '--log-level', 'debug']);
  t.after(() => cli.child.kill('SIGKILL'));
  const socket = await specGatewayV1(cli.port, 'key-9', SECRET, [['nodehost', '127.0.0.1'], ['nodeport', String(node.port)], ['extra', 'x y & z']]);
  socket.write("ping");
  assert.equal((await readExactly(socket, 4)).toString(), 'ping');
  socket.end();
  socket.resume();
  await once(socket, 'end');
  assert.equal(node.peers.length, 1);

  const refused = await specGatewayV1(cli.port, 'key-9', SECRET, [['nodehost', '127.0.0.1'], ['nodeport', String(other.port)]]);
  refused.on('error', () => {});
  refused.on('end', () => refused.end());
  refused.resume();
  await once(refused, 'close');
  assert.equal(other.peers.length, 0, 'never dialed');
  await until(() => /outside the allowlist/.test(cli.output()), { timeoutMs: 5000, what: 'the refusal logged' });
  cli.child.kill('SIGTERM');
  const exit = await cli.exited;
  assert.equal(exit.code, 0);
  assert.doesNotMatch(exit.stdout + exit.stderr, new RegExp(SECRET));
});

/** A raw client of wsgate's proxy: the greeting's nonce, and the socket. */
async function greeted(port: number): Promise<{ socket: net.Socket; version: number; nonce: Buffer }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const head = await readExactly(socket, 8);
  assert.equal(head.readUInt32BE(0), PROXY_MAGIC);
  return { socket, version: head.readUInt16BE(4), nonce: await readExactly(socket, head.readUInt16BE(6)) };
}

/** Resolves with what the proxy sent before closing (a v2 result frame, or nothing). */
async function answerOf(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.on('end', () => socket.end());
  socket.resume();
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

test('the cluster proxy refuses tampering, a wrong secret, a replayed nonce, stale timestamps, bad framing and silence, saying why', { timeout: 30_000 }, async (t) => {
  const { dir } = workdir(t);
  const node = await echoNode(t);
  const proxy = await loggedClusterProxy(t, dir, { allow: [`127.0.0.1:${node.port}`], handshakeTimeout: 0.5, maxSkew: 30 });
  const secret = new Secret(Buffer.from(SECRET));
  const params = [['nodehost', '127.0.0.1'], ['nodeport', String(node.port)]] as const;
  const now = () => Math.floor(Date.now() / 1000);
  const why = async (expected: RegExp) => {
    await until(() => logLines(proxy.log).some((l) => l.msg === 'hand-off refused' && expected.test(String(l.why))), { timeoutMs: 3000, what: `a refusal matching ${expected}` });
  };

  // A good v2 document works (the baseline for the tampered ones).
  {
    const c = await greeted(proxy.port);
    assert.equal(c.version, 1, 'the greeting names the lowest version accepted');
    c.socket.write(encodeV2Document({ timestamp: now(), key: 'k', params }, secret, c.nonce));
    const head = await readExactly(c.socket, 8);
    assert.deepEqual(decodeResult(await readExactly(c.socket, head.readUInt16BE(6))), { status: 0, reason: 'connected' });
    c.socket.end('bye');
    assert.equal((await readExactly(c.socket, 3)).toString(), 'bye');
    c.socket.destroy();
  }
  const refusedV2 = async (frame: (nonce: Buffer) => Buffer, status: number, expected: RegExp) => {
    const c = await greeted(proxy.port);
    c.socket.write(frame(c.nonce));
    const answer = await answerOf(c.socket);
    assert.equal(answer.readUInt32BE(0), PROXY_MAGIC);
    const result = decodeResult(answer.subarray(8));
    assert.equal(result.status, status, result.reason);
    assert.match(result.reason, expected);
    await why(expected);
  };
  // A changed parameter (nodeport altered after signing).
  await refusedV2((n) => {
    const f = encodeV2Document({ timestamp: now(), key: 'k', params }, secret, n);
    const at = f.indexOf(Buffer.from(String(node.port)));
    f[at] = f[at] === 0x31 ? 0x32 : 0x31;
    return f;
  }, 1, /MAC mismatch/);
  await refusedV2((n) => encodeV2Document({ timestamp: now(), key: 'k', params }, new Secret(Buffer.from('another secret')), n), 1, /MAC mismatch/);
  // A replay: a document made for one connection's nonce, sent on another.
  const first = await greeted(proxy.port);
  const recorded = encodeV2Document({ timestamp: now(), key: 'k', params }, secret, first.nonce);
  first.socket.destroy();
  await refusedV2(() => recorded, 1, /MAC mismatch/);
  await refusedV2((n) => encodeV2Document({ timestamp: now() - 120, key: 'k', params }, secret, n), 1, /\b1[12][0-9] s old/);
  await refusedV2((n) => encodeV2Document({ timestamp: now() + 120, key: 'k', params }, secret, n), 1, /\b1[12][0-9] s ahead/);

  // v1 tampering: the proxy just closes (version 1 has no result).
  const refusedRaw = async (bytes: (nonce: Buffer) => Buffer, expected: RegExp, end = false) => {
    const c = await greeted(proxy.port);
    if (end) c.socket.end(bytes(c.nonce));
    else c.socket.write(bytes(c.nonce));
    assert.equal((await answerOf(c.socket)).length, 0, 'nothing sent back');
    await why(expected);
  };
  const v1 = (n: Buffer, p: ReadonlyArray<readonly [string, string]>, s = secret) =>
    encodeFrame(GATEWAY_MAGIC, 1, encodeV1Document({ key: 'k', hash: v1Hash('k', s, n, params), params: p }));
  await refusedRaw((n) => v1(n, [['nodehost', '127.0.0.1'], ['nodeport', '22']]), /hash mismatch/);
  await refusedRaw((n) => v1(n, params, new Secret(Buffer.from('wrong'))), /hash mismatch/);
  await refusedRaw(() => Buffer.from('GET / HTTP/1.1\r\n\r\n'), /bad magic 0x47455420/);
  await refusedRaw(() => encodeFrame(GATEWAY_MAGIC, 3, Buffer.from('x')), /version 3 not accepted/);
  // A length that promises more than comes: a short read.
  await refusedRaw((n) => v1(n, params).subarray(0, 40), /after 40 bytes, before its document was complete/, true);
  // Nothing at all: the handshake timeout.
  await refusedRaw(() => Buffer.alloc(0), /no complete document within 500 ms/);
  assert.equal(node.peers.length, 1, 'only the good document reached the node');
  assert.doesNotMatch(readFileSync(proxy.log, 'utf8'), new RegExp(SECRET));
});

test('v2: the gateway answers 502 before the 101 when the proxy refuses: node outside the allowlist, node down, wrong secret, v1-only proxy', { timeout: 20_000 }, async (t) => {
  const { dir, secretFile } = workdir(t);
  const node = await echoNode(t);
  const proxy = await loggedClusterProxy(t, dir, { allow: [`127.0.0.1:${node.port}`] });
  const v1Only = await loggedClusterProxy(t, dir, { allow: [`127.0.0.1:${node.port}`], versions: [1] });
  const down = net.createServer();
  down.listen(0, '127.0.0.1');
  await once(down, 'listening');
  const downPort = (down.address() as net.AddressInfo).port;
  await new Promise((r) => down.close(r));
  const wrongSecret = `${dir}/wrong`;
  writeFileSync(wrongSecret, 'not it');
  const resolver = vncDatabase(dir, [
    { key: 'good', nodehost: '127.0.0.1', nodeport: node.port, connecthost: '127.0.0.1', connectport: proxy.port },
    { key: 'outside', nodehost: '127.0.0.1', nodeport: 22, connecthost: '127.0.0.1', connectport: proxy.port },
    { key: 'nonode', connecthost: '127.0.0.1', connectport: proxy.port },
    { key: 'v1only', nodehost: '127.0.0.1', nodeport: node.port, connecthost: '127.0.0.1', connectport: v1Only.port },
  ]);
  const proxyWithDownNode = await loggedClusterProxy(t, dir, { allow: [`127.0.0.1:${downPort}`] });
  const resolverDown = vncDatabase(dir, [{ key: 'down', nodehost: '127.0.0.1', nodeport: downPort, connecthost: '127.0.0.1', connectport: proxyWithDownNode.port }]);
  const gw = await loggedGateway(t, dir, [
    route(resolver, { version: 2, secretFile }),
    { ...route(resolver, { version: 2, secretFile: wrongSecret }), path: '/wrong' },
    { ...route(resolverDown, { version: 2, secretFile }), path: '/down' },
  ]);
  assert.equal(await handshakeStatus(gw.url('/vnc?key=good')), 101);
  const cases: Array<[string, RegExp]> = [
    ['/vnc?key=outside', /cluster proxy refused \(forbidden\): node 127\.0\.0\.1:22 is outside the allowlist/],
    ['/vnc?key=nonode', /cluster proxy refused \(forbidden\): the document names no node/],
    ['/wrong?key=good', /cluster proxy refused \(unauthorised\): document: MAC mismatch/],
    ['/down?key=down', /cluster proxy refused \(unreachable\): cannot connect to node .*ECONNREFUSED/],
    ['/vnc?key=v1only', /the cluster proxy closed the connection before its result was complete/],
  ];
  for (const [path, reason] of cases) {
    assert.equal(await handshakeStatus(gw.url(path)), 502, path);
    await until(() => logLines(gw.log).some((l) => l.msg === 'handshake refused' && reason.test(String(l.reason))), { timeoutMs: 3000, what: `${path}: ${reason}` });
  }
  assert.equal(node.peers.length, 1);
});

/** A fake cluster proxy that sends `greeting` (or nothing) and counts connections. */
async function fakeProxy(t: import('node:test').TestContext, greeting: Buffer | null, thenClose = false): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.on('error', () => {});
    if (greeting) s.write(greeting);
    if (thenClose) s.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections };
}

test('gateway side: bad greetings, a greeting over 1024 bytes or none at all are 502; a document over 64 KiB or a non-XML name is 403 before dialing', { timeout: 20_000 }, async (t) => {
  const { dir, secretFile } = workdir(t);
  const nonce = Buffer.from('0123456789abcdef0123456789abcdef');
  const long = Buffer.alloc(1025 + 8);
  long.writeUInt32BE(PROXY_MAGIC, 0);
  long.writeUInt16BE(1, 4);
  long.writeUInt16BE(1025, 6);
  const proxies = {
    magic: await fakeProxy(t, encodeFrame(GATEWAY_MAGIC, 1, nonce)),
    version: await fakeProxy(t, encodeFrame(PROXY_MAGIC, 7, nonce)),
    v2only: await fakeProxy(t, encodeFrame(PROXY_MAGIC, 2, nonce)),
    long: await fakeProxy(t, long),
    short: await fakeProxy(t, encodeFrame(PROXY_MAGIC, 2, Buffer.from('short'))),
    silent: await fakeProxy(t, null),
    closes: await fakeProxy(t, encodeFrame(PROXY_MAGIC, 1, nonce).subarray(0, 10), true),
    counted: await fakeProxy(t, encodeFrame(PROXY_MAGIC, 1, nonce)),
  };
  const rows = Object.entries(proxies).map(([key, p]) => ({ key, nodehost: 'n', nodeport: 1, connecthost: '127.0.0.1', connectport: p.port }));
  rows.push({ key: 'huge', nodehost: 'n', nodeport: 1, connecthost: '127.0.0.1', connectport: proxies.counted.port, note: 'x'.repeat(70_000) } as never);
  const resolver = vncDatabase(dir, rows, ['bad name']);
  const db = new Database(String(resolver.path));
  db.prepare(`INSERT INTO vnc (vnckey, connecthost, connectport, "bad name") VALUES ('badname', '127.0.0.1', ?, 'v')`).run(proxies.counted.port);
  db.close();
  const gw = await loggedGateway(t, dir, [
    route(resolver, { version: 1, secretFile }, { connectTimeout: 0.5 }),
    { ...route(resolver, { version: 2, secretFile }, { connectTimeout: 0.5 }), path: '/v2' },
  ]);
  const cases: Array<[string, number, RegExp]> = [
    ['/vnc?key=magic', 502, /greeting: bad magic 0xab15ab1e/],
    ['/vnc?key=version', 502, /greeting: version 7 not accepted \(accepted: 1\)/],
    ['/vnc?key=v2only', 502, /greeting: version 2 not accepted \(accepted: 1\)/],
    ['/vnc?key=long', 502, /greeting: length 1025 exceeds 1024/],
    ['/v2?key=short', 502, /a 5-byte nonce is too short for version 2/],
    ['/vnc?key=silent', 502, /no greeting from the cluster proxy within 500 ms/],
    ['/vnc?key=closes', 502, /closed the connection before its greeting was complete/],
    ['/vnc?key=huge', 403, /would be \d+ bytes, more than the 16-bit length allows/],
    ['/v2?key=huge', 403, /would be \d+ bytes, more than the 16-bit length allows/],
    ['/vnc?key=badname', 403, /parameter name "bad name" is not a valid XML name/],
  ];
  for (const [path, status, reason] of cases) {
    const started = Date.now();
    assert.equal(await handshakeStatus(gw.url(path)), status, path);
    assert.ok(Date.now() - started < 3000, `${path} answered in time`);
    await until(() => logLines(gw.log).some((l) => l.msg === 'handshake refused' && reason.test(String(l.reason))), { timeoutMs: 3000, what: `${path}: ${reason}` });
  }
  assert.equal(proxies.counted.connections(), 0, 'refusals at lookup time dial nothing');
  // In version 2 the same name travels (it is binary).
  const v2name = new WebSocket(gw.url('/v2?key=badname'));
  v2name.on('error', () => {});
  await until(() => proxies.counted.connections() === 1, { timeoutMs: 3000, what: 'the v2 route dials' });
  v2name.terminate();
  assert.match(readFileSync(gw.log, 'utf8'), /cluster hand-off impossible for this lookup/);
});

test('config: clusterHandoff needs a resolver and one secret source; an inline secret warns; the secret never shows in errors', { timeout: 10_000 }, async (t) => {
  const { dir, secretFile } = workdir(t);
  const resolver = vncDatabase(dir, []);
  const bad: Array<[unknown, RegExp]> = [
    [{ path: '/x', handler: 'tcp-proxy', target: '127.0.0.1:1', clusterHandoff: { version: 1, secretFile } }, /clusterHandoff: needs a resolver/],
    [route(resolver, { version: 3, secretFile }), /clusterHandoff\.version/],
    [route(resolver, { version: 1 }), /give exactly one of secretFile, secretEnv or secret/],
    [route(resolver, { version: 1, secretFile, secretEnv: 'X' }), /give exactly one/],
    [route(resolver, { version: 1, secretFile: `${dir}/missing` }), /cannot read the secret file .*missing: ENOENT/],
    [route(resolver, { version: 1, secretEnv: 'WSGATE_TEST_NO_SUCH_VAR' }), /environment variable WSGATE_TEST_NO_SUCH_VAR is not set/],
    [route(resolver, { version: 1, secretFile, extra: 1 }), /clusterHandoff\.extra: unknown field/],
  ];
  for (const [r, message] of bad) {
    await assert.rejects(loggedGateway(t, dir, [r]), (e: Error) => message.test(e.message) && !e.message.includes(SECRET), String(message));
  }
  process.env.WSGATE_TEST_CLUSTER_SECRET = 'from the environment';
  t.after(() => delete process.env.WSGATE_TEST_CLUSTER_SECRET);
  await loggedGateway(t, dir, [route(resolver, { version: 2, secretEnv: 'WSGATE_TEST_CLUSTER_SECRET' })]);
  const inline = await loggedGateway(t, dir, [route(resolver, { version: 2, secret: 'inline secret value' })]);
  assert.match(readFileSync(inline.log, 'utf8'), /clusterHandoff\.secret is written in the config file/);
  assert.doesNotMatch(readFileSync(inline.log, 'utf8'), /inline secret value/);
});
