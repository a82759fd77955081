// The service files in contrib/: the systemd unit, the Dockerfile and the
// docker-compose example. Checked for syntax everywhere (known Dockerfile
// instructions, a non-root USER, a HEALTHCHECK on /healthz; compose YAML that
// names its services; the config it mounts loads). The image is built and
// started only with WSGATE_DOCKER_TEST=1 and a working docker: the build
// fetches the base image and npm packages, which a loopback-only test machine cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './support/index.js';
import { loadConfigFile } from '../src/config/file.js';

const contrib = (name: string) => join(REPO_ROOT, 'contrib', name);

const DOCKERFILE_INSTRUCTIONS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

/** The Dockerfile's instructions, continuation lines joined. */
function instructions(text: string): Array<{ name: string; args: string }> {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [name, ...rest] = l.split(/\s+/);
      return { name: name!, args: rest.join(' ') };
    });
}

test('contrib/Dockerfile: known instructions, two stages, a non-root user, a HEALTHCHECK on /healthz, wsgate as the entry point', () => {
  const all = instructions(readFileSync(contrib('Dockerfile'), 'utf8'));
  for (const i of all) assert.ok(DOCKERFILE_INSTRUCTIONS.has(i.name), `unknown instruction ${i.name}`);
  assert.equal(all[0]!.name, 'FROM');
  assert.equal(all.filter((i) => i.name === 'FROM').length, 2);
  const users = all.filter((i) => i.name === 'USER');
  assert.ok(users.length > 0 && !['root', '0'].includes(users.at(-1)!.args));
  assert.match(all.find((i) => i.name === 'HEALTHCHECK')!.args, /CMD .*\/healthz/);
  assert.match(all.find((i) => i.name === 'ENTRYPOINT')!.args, /bin\/wsgate\.js/);
  for (const copy of all.filter((i) => i.name === 'COPY' && !i.args.startsWith('--from'))) {
    const sources = copy.args.split(/\s+/).slice(0, -1);
    for (const s of sources) assert.ok(existsSync(join(REPO_ROOT, s)), `COPY source ${s} exists`);
  }
});

test('contrib/docker-compose.yml: YAML naming the vnc and wsgate services; the config it mounts is a valid wsgate config', () => {
  const compose = parse(readFileSync(contrib('docker-compose.yml'), 'utf8')) as { services: Record<string, Record<string, unknown>> };
  assert.deepEqual(Object.keys(compose.services).sort(), ['vnc', 'wsgate']);
  const build = compose.services.wsgate!.build as { context: string; dockerfile: string };
  assert.ok(existsSync(join(REPO_ROOT, 'contrib', build.context, build.dockerfile)));
  const volume = (compose.services.wsgate!.volumes as string[])[0]!;
  const config = loadConfigFile(join(REPO_ROOT, 'contrib', volume.split(':')[0]!));
  assert.deepEqual(config.routes.map((r) => r.options.target), ['vnc:5901']);
  assert.equal(config.listen[0]!.port, 8080);
});

test('contrib/wsgate.service: Type=notify with NotifyAccess=all, reload by SIGHUP; the socket unit', () => {
  const unit = readFileSync(contrib('wsgate.service'), 'utf8');
  for (const section of ['[Unit]', '[Service]', '[Install]']) assert.ok(unit.includes(`\n${section}\n`), section);
  for (const line of ['Type=notify', 'NotifyAccess=all', 'ExecReload=/bin/kill -HUP $MAINPID', 'WatchdogSec=30']) assert.match(unit, new RegExp(`^${line.replace(/[$]/g, '\\$')}$`, 'm'));
  for (const l of unit.split('\n')) if (l && !l.startsWith('#') && !l.startsWith('[')) assert.match(l, /^[A-Za-z]+=/, l);
  assert.match(readFileSync(contrib('wsgate.socket'), 'utf8'), /^ListenStream=8080$/m);
});

const dockerWanted = process.env.WSGATE_DOCKER_TEST === '1' && spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
test('contrib/Dockerfile builds, and the container turns healthy', { timeout: 900_000, skip: dockerWanted ? false : 'set WSGATE_DOCKER_TEST=1 with a working docker (the build needs the network)' }, () => {
  const tag = `wsgate-test:${process.pid}`;
  const built = spawnSync('docker', ['build', '-f', 'contrib/Dockerfile', '-t', tag, '.'], { cwd: REPO_ROOT, stdio: 'inherit' });
  assert.equal(built.status, 0);
  const name = `wsgate-test-${process.pid}`;
  const config = contrib('wsgate-compose.yaml');
  assert.equal(spawnSync('docker', ['run', '-d', '--name', name, '-v', `${config}:/etc/wsgate/wsgate.yaml:ro`, tag]).status, 0);
  try {
    const deadline = Date.now() + 120_000;
    let health = '';
    while (Date.now() < deadline && health !== 'healthy') {
      health = spawnSync('docker', ['inspect', '-f', '{{.State.Health.Status}}', name], { encoding: 'utf8' }).stdout.trim();
      spawnSync('sleep', ['2']);
    }
    assert.equal(health, 'healthy');
  } finally {
    spawnSync('docker', ['rm', '-f', name]);
    spawnSync('docker', ['rmi', tag]);
  }
});
