// `wsgate cluster-proxy` as a command: help, usage errors (exit 2) that name
// the flag or the file line and never the secret, a YAML file with flags
// over it, and a port in use (exit 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runClusterProxyCommand } from '../src/cli/cluster-proxy-command.js';
import { readYamlFile } from '../src/config/file.js';
import { buildClusterProxyConfig } from '../src/proxy/cluster-proxy/config.js';
import { runCli, spawnCli } from './support/index.js';
import { SECRET, workdir } from './support/cluster.js';

async function command(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runClusterProxyCommand(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

test('cluster-proxy --help, and `wsgate --help` points to it', { timeout: 10_000 }, async () => {
  const help = await command('--help');
  assert.equal(help.code, 0);
  for (const flag of ['--listen', '--secret-file', '--secret-env', '--allow', '--versions', '--param-host', '--param-port', '--local-address', '--connect-timeout', '--max-skew', '--config']) {
    assert.match(help.out, new RegExp(`^  ${flag} `, 'm'), flag);
  }
  const main = await runCli(['--help']);
  assert.match(main.stdout, /wsgate cluster-proxy --listen HOST:PORT --secret-file FILE/);
});

test('cluster-proxy usage errors exit 2, name the flag, never show the secret', { timeout: 10_000 }, async (t) => {
  const { dir, secretFile } = workdir(t);
  const base = ['--listen', '127.0.0.1:0', '--secret-file', secretFile, '--allow', '127.0.0.1:5901'];
  const cases: Array<[string[], RegExp]> = [
    [['--listen', '127.0.0.1:0', '--allow', '127.0.0.1'], /give exactly one of secretFile \(--secret-file\) or secretEnv/],
    [['--listen', '127.0.0.1:0', '--secret-file', secretFile], /allow: is required/],
    [['--secret-file', secretFile, '--allow', '127.0.0.1'], /listen: is required/],
    [[...base, '--versions', '3'], /--versions: give 1, 2 or 1,2/],
    [[...base, '--allow', '10.0.0.0/33'], /--allow: allow: "10\.0\.0\.0\/33": bad prefix length/],
    [[...base, '--local-address', 'eth0'], /--local-address: localAddress: "eth0" is not an IP address/],
    [[...base, '--connect-timeout', '0'], /connectTimeout: must be more than 0/],
    [[...base, '--max-skew', 'soon'], /--max-skew: maxSkew/],
    [[...base, '--secret-env', 'X'], /give exactly one/],
    [['--listen', '127.0.0.1:0', '--secret-file', join(dir, 'none'), '--allow', '127.0.0.1'], /--secret-file: secretFile: cannot read the secret file .*none: ENOENT/],
    [[...base, '--bogus'], /Unknown option '--bogus'/],
    [[...base, 'extra'], /Unexpected argument 'extra'|positional/],
  ];
  for (const [argv, message] of cases) {
    const r = await command(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, message, argv.join(' '));
    assert.doesNotMatch(r.err, new RegExp(SECRET));
  }
  writeFileSync(join(dir, 'empty'), '\n');
  assert.match((await command('--listen', '127.0.0.1:0', '--secret-file', join(dir, 'empty'), '--allow', '127.0.0.1')).err, /secret file .* is empty/);
});

test('cluster-proxy --config: fields from YAML with line numbers in errors, relative secret file, flags override', { timeout: 10_000 }, async (t) => {
  const { dir } = workdir(t);
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:0\nsecretFile: secret\nversions: [2]\nallow: ["10.0.0.0/8:5900-5999"]\nmaxSkew: 30\nparamHost: host\n');
  const { value, locate, baseDir } = readYamlFile(file);
  const config = buildClusterProxyConfig(value as Record<string, unknown>, locate, baseDir);
  assert.deepEqual(config.versions, [2]);
  assert.equal(config.maxSkewMs, 30_000);
  assert.equal(config.paramHost, 'host');
  assert.equal(config.paramPort, 'nodeport');
  assert.equal(config.secret.bytes.toString(), SECRET, 'secretFile relative to the file, trailing newline dropped');
  assert.ok(config.allow.allows('10.1.2.3', 5901) && !config.allow.allows('10.1.2.3', 22));

  writeFileSync(join(dir, 'bad.yaml'), 'listen: 127.0.0.1:0\nsecretFile: secret\nallow: ["x/y"]\nversions: [1, 5]\n');
  const bad = await command('--config', join(dir, 'bad.yaml'));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /bad\.yaml:4: versions\[1\]: must be one of 1, 2/);
  writeFileSync(join(dir, 'typo.yaml'), 'listen: 127.0.0.1:0\nsecretFile: secret\nallow: ["127.0.0.1"]\nconectTimeout: 3\n');
  assert.match((await command('--config', join(dir, 'typo.yaml'))).err, /typo\.yaml:4: conectTimeout: unknown field/);

  // Flags win over the file: here the listen address, which then says where it listens.
  const cli = await spawnCli(['cluster-proxy', '--config', file, '--listen', '127.0.0.1:0', '--versions', '1,2']);
  t.after(() => cli.child.kill('SIGKILL'));
  assert.match(cli.output(), /"versions":\[1,2\]/);
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited).code, 0);
});

test('cluster-proxy: a port in use exits 1', { timeout: 10_000 }, async (t) => {
  const { secretFile } = workdir(t);
  const busy = net.createServer().listen(0, '127.0.0.1');
  await once(busy, 'listening');
  t.after(() => busy.close());
  const r = await command('--listen', `127.0.0.1:${(busy.address() as net.AddressInfo).port}`, '--secret-file', secretFile, '--allow', '127.0.0.1');
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot listen: EADDRINUSE/);
});
