// Local addresses with real, distinct source addresses: the front gateway,
// the cluster proxy and the node each run in a network namespace of their
// own (created here, joined by veth pairs, TEST-NET and fd00::/8 addresses
// inside the namespaces only; all deleted afterwards). The gateway binds its
// connection to the cluster proxy to one of two addresses (`localAddress`),
// the cluster proxy binds its connection to the node likewise
// (`--local-address`), and the node reports the peer address it sees.
// IPv4 and IPv6. Needs root (ip netns); skipped, saying why, without it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, REPO_ROOT } from './support/index.js';
import { SECRET, vncDatabase, workdir } from './support/cluster.js';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why namespaces cannot be used here, or null. */
function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root: network namespaces (ip netns add) need root';
  const probe = `wsgprobe${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return null;
  } catch (e) {
    return `ip netns add failed: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`;
  }
}

interface Topology {
  gw: string;
  proxy: string;
  node: string;
}

/**
 * gw --veth-- proxy --veth-- node. The gateway's side has two addresses of
 * each family, and so has the proxy's side towards the node.
 */
function createTopology(t: TestContext): Topology {
  const id = randomBytes(3).toString('hex');
  const ns = { gw: `wsg-gw-${id}`, proxy: `wsg-cp-${id}`, node: `wsg-nd-${id}` };
  t.after(() => {
    for (const name of Object.values(ns)) {
      try {
        ip('netns', 'del', name); // takes its veth ends with it
      } catch {
        // never created
      }
    }
  });
  for (const name of Object.values(ns)) {
    ip('netns', 'add', name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
  }
  // Interface names are at most 15 characters.
  ip('-n', ns.gw, 'link', 'add', `ga${id}`, 'type', 'veth', 'peer', 'name', `pa${id}`, 'netns', ns.proxy);
  ip('-n', ns.proxy, 'link', 'add', `pb${id}`, 'type', 'veth', 'peer', 'name', `nb${id}`, 'netns', ns.node);
  const addresses: Array<[string, string, string[]]> = [
    [ns.gw, `ga${id}`, ['192.0.2.1/24', '192.0.2.2/24', 'fd00:a::1/64', 'fd00:a::2/64']],
    [ns.proxy, `pa${id}`, ['192.0.2.10/24', 'fd00:a::10/64']],
    [ns.proxy, `pb${id}`, ['198.51.100.1/24', '198.51.100.2/24', 'fd00:b::1/64', 'fd00:b::2/64']],
    [ns.node, `nb${id}`, ['198.51.100.10/24', 'fd00:b::10/64']],
  ];
  for (const [name, dev, list] of addresses) {
    // nodad: IPv6 addresses usable at once, not after duplicate address detection.
    for (const a of list) ip('-n', name, 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
    ip('-n', name, 'link', 'set', dev, 'up');
  }
  return ns;
}

/** Runs `args` in namespace `ns`; resolves once its output matches `ready`. Killed when the test ends. */
async function runIn(t: TestContext, ns: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in ${ns} within 10 s: ${out}`)), 10_000);
    const check = () => {
      if (!ready.test(out)) return;
      clearTimeout(timer);
      child.stdout!.removeListener('data', check);
      resolve();
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`exited (${code}) in ${ns}: ${out}`)));
  });
  return { child, output: () => out };
}

// The node: tells each peer the address it sees, then echoes.
const NODE_SCRIPT = `
import net from 'node:net';
const serve = (s) => { s.write('peer=' + s.remoteAddress + '\\n'); s.pipe(s); };
let listening = 0;
for (const host of ['198.51.100.10', 'fd00:b::10']) net.createServer(serve).listen(5901, host, () => ++listening === 2 && console.log('ready'));
`;

// The client: one session per route; prints what the node said and whether the echo came back.
const clientScript = (wsModule: string, urls: string[]) => `
import { WebSocket } from '${wsModule}';
for (const url of ${JSON.stringify(urls)}) {
  const ws = new WebSocket(url);
  let text = '';
  const result = await new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('unexpected-response', (_q, res) => reject(new Error('HTTP ' + res.statusCode)));
    ws.on('open', () => ws.send('echo-me'));
    ws.on('message', (d) => {
      text += d.toString();
      if (text.includes('echo-me')) resolve(text);
    });
  });
  ws.close();
  console.log(JSON.stringify({ url, peer: /peer=(\\S+)/.exec(result)?.[1], echoed: result.endsWith('echo-me') }));
}
`;

test('local addresses in network namespaces: gateway -> cluster proxy -> node, each hop from its configured source, IPv4 and IPv6', { timeout: 60_000 }, async (t) => {
  const why = unavailable();
  if (why) {
    t.diagnostic(`SKIPPED: ${why}`);
    t.skip(why);
    return;
  }
  const ns = createTopology(t);
  const { dir, secretFile } = workdir(t);
  writeFileSync(join(dir, 'node.mjs'), NODE_SCRIPT);
  await runIn(t, ns.node, [join(dir, 'node.mjs')], /ready/);

  const proxy4 = await runIn(t, ns.proxy, [BIN, 'cluster-proxy', '--listen', '192.0.2.10:5999', '--secret-file', secretFile, '--allow', '198.51.100.0/24:5901', '--local-address', '198.51.100.2'], /"msg":"listening"/);
  const proxy6 = await runIn(t, ns.proxy, [BIN, 'cluster-proxy', '--listen', '[fd00:a::10]:6999', '--secret-file', secretFile, '--allow', '[fd00:b::/64]:5901', '--local-address', 'fd00:b::2'], /"msg":"listening"/);

  const resolver = vncDatabase(dir, [
    { key: 'k4', nodehost: '198.51.100.10', nodeport: 5901, connecthost: '192.0.2.10', connectport: 5999 },
    { key: 'k6', nodehost: 'fd00:b::10', nodeport: 5901, connecthost: 'fd00:a::10', connectport: 6999 },
  ]);
  const handoff = { version: 2, secretFile };
  const config = {
    listen: '127.0.0.1:8080',
    routes: [
      { path: '/v4', handler: 'tcp-proxy', resolver, clusterHandoff: handoff, localAddress: '192.0.2.2' },
      { path: '/v6', handler: 'tcp-proxy', resolver, clusterHandoff: handoff, localAddress: 'fd00:a::2' },
      { path: '/v4-default', handler: 'tcp-proxy', resolver, clusterHandoff: handoff },
    ],
  };
  writeFileSync(join(dir, 'gateway.json'), JSON.stringify(config)); // JSON is YAML
  await runIn(t, ns.gw, [BIN, '--config', join(dir, 'gateway.json')], /"msg":"listening"/);

  const wsModule = pathToFileURL(join(REPO_ROOT, 'node_modules', 'ws', 'wrapper.mjs')).href;
  writeFileSync(join(dir, 'client.mjs'), clientScript(wsModule, ['/v4?key=k4', '/v6?key=k6', '/v4-default?key=k4'].map((p) => `ws://127.0.0.1:8080${p}`)));
  const client = await runIn(t, ns.gw, [join(dir, 'client.mjs')], /v4-default.*\n/);
  const results = client.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { url: string; peer: string; echoed: boolean });
  assert.deepEqual(results.map((r) => [r.peer, r.echoed]), [['198.51.100.2', true], ['fd00:b::2', true], ['198.51.100.2', true]], 'the node sees the proxy\'s --local-address');

  // The proxies saw the gateway's localAddress (and, without one, the namespace's primary address).
  const opens = (out: string) => out.split('\n').filter((l) => l.includes('"msg":"connection open"')).map((l) => JSON.parse(l) as { remote: string; local: string });
  assert.deepEqual(opens(proxy4.output()).map((l) => l.remote), ['192.0.2.2', '192.0.2.1']);
  assert.deepEqual(opens(proxy6.output()).map((l) => l.remote), ['fd00:a::2']);
  assert.match(opens(proxy4.output())[0]!.local, /^198\.51\.100\.2:\d+$/);
  assert.doesNotMatch(proxy4.output() + proxy6.output(), new RegExp(SECRET));
});
