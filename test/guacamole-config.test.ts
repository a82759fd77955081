// Config of the Guacamole routes through the real CLI: a mistake stops
// startup naming FILE:LINE and the field; the README's example starts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, spawnCli, tempDir } from './support/index.js';

const dir = tempDir(after, 'guac-config');
let n = 0;
const configFile = (text: string) => {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, text);
  return path;
};
const route = (lines: string) => `listen: 127.0.0.1:0\nroutes:\n  - path: /g\n${lines}`;

test('Guacamole route mistakes stop startup (exit 2) naming the file, line and field', { timeout: 30_000 }, async () => {
  const sqlite = '    resolver: { type: sqlite, path: x.db, query: "SELECT * FROM c WHERE t = ?" }\n';
  const cases: Array<[string, string]> = [
    [route('    handler: tcp-proxy\n    target: 127.0.0.1:4823\n    backendIdleTimeout: 5\n'), ':6: routes[0].backendIdleTimeout: only applies with framing: guacamole'],
    [route('    handler: tcp-proxy\n    target: 127.0.0.1:4823\n    framing: guac\n'), ':6: routes[0].framing: must be one of "none", "guacamole"'],
    [route('    handler: guacamole\n    guacd: 127.0.0.1:4822\n'), ':3: routes[0].resolver: is required'],
    [route(`    handler: guacamole\n    guacd: localhost\n${sqlite}`), ':5: routes[0].guacd:'],
    [route(`    handler: guacamole\n${sqlite}    maxInstructionSize: 10\n`), ':6: routes[0].maxInstructionSize: must be at least 1KiB'],
    [route(`    handler: guacamole\n${sqlite}    clientSettings: hostname\n`), ':6: routes[0].clientSettings'],
  ];
  for (const [text, expected] of cases) {
    const path = configFile(text);
    const r = await runCli(['--config', path]);
    assert.equal(r.code, 2, `${expected}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`${path}${expected}`), `expected "${path}${expected}" in: ${r.stderr}`);
  }
});

test("the README's Guacamole example starts", { timeout: 20_000 }, async () => {
  const path = configFile(`listen: 127.0.0.1:0
routes:
  - path: /guac                      # handler: guacamole: wsgate does the guacd handshake
    handler: guacamole
    guacd: 127.0.0.1:4822
    resolver:
      type: sqlite
      path: connections.db
      query: SELECT * FROM connections WHERE token = ?   # columns: protocol, hostname, port, password, ...
    clientSettings: [width, height, dpi]
  - path: /tunnel                    # framing only: the backend already speaks Guacamole
    handler: tcp-proxy
    target: 127.0.0.1:4823
    framing: guacamole
`);
  const cli = await spawnCli(['--config', path]);
  // Answered requests mean it is serving (and has its signal handlers: they come after "listening").
  assert.equal((await fetch(`http://127.0.0.1:${cli.port}/healthz`)).status, 200);
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited).code, 0);
});
