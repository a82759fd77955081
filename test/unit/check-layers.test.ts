// scripts/check-layers.mjs on small fake src/ trees: upward imports of every
// form and folder cycles are reported with FILE:LINE, clean trees pass.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT, tempDir } from '../support/index.js';

const CHECKER = join(REPO_ROOT, 'scripts', 'check-layers.mjs');

/** A temporary project whose src/ holds `files` (path under src/ -> text), removed when the test ends. */
function tree(t: TestContext, files: Record<string, string>): string {
  const root = tempDir(t, 'layers');
  for (const [path, text] of Object.entries(files)) {
    const file = join(root, 'src', path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return root;
}

function check(root: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHECKER, root], { cwd: REPO_ROOT, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: stdout + stderr });
    });
  });
}

test('check-layers: imports that point down pass', { timeout: 30_000 }, async (t) => {
  const root = tree(t, {
    'cli/main.ts': "import { start } from '../server/gateway.js';\nimport('./lazy.js');\n",
    'cli/lazy.ts': 'export {};\n',
    'server/gateway.ts': "import type { Handler } from '../handlers/types.js';\nexport const start = 1;\n",
    'handlers/types.ts': "import { Session } from '../session/session.js';\nexport type Handler = Session;\n",
    'proxy/resolvers/sql.ts': "import { table } from './tokens-table.js';\nimport { log } from '../../observability/logger.js';\n",
    'proxy/resolvers/tokens-table.ts': 'export const table = 1;\n',
    'session/session.ts': "import { x } from '../config/types.js';\nexport class Session {}\n",
    'observability/logger.ts': 'export const log = 1;\n',
    'config/types.ts': "export const x = 1;\n// import { y } from '../cli/main.js' is only a comment\nconst s = \"import('../cli/main.js')\";\n",
    // The public entry point may re-export any layer.
    'index.ts': "export * from './cli/main.js';\nexport { x } from './config/types.js';\n",
  });
  const { code, out } = await check(root);
  assert.equal(code, 0, out);
  assert.match(out, /point down the layers/);
});

test('check-layers: an upward import and a folder cycle are both reported with file:line', { timeout: 30_000 }, async (t) => {
  const root = tree(t, {
    'handlers/types.ts': "import { dial } from '../proxy/dial.js';\nexport type Ctx = number;\n",
    'proxy/dial.ts': "export const dial = 1;\n\nimport type { Ctx } from '../handlers/types.js';\n",
    'session/session.ts': "import { log } from '../observability/logger.js';\n",
    'observability/logger.ts': "export const log = 1;\nexport const later = () => import('../session/session.js');\n",
  });
  const { code, out } = await check(root);
  assert.equal(code, 1, out);
  assert.match(out, /src\/proxy\/dial\.ts:3: import '\.\.\/handlers\/types\.js': proxy may not import handlers, a layer above it/);
  assert.match(out, /src\/observability\/logger\.ts:2: import '\.\.\/session\/session\.js': observability may not import session/);
  assert.match(out, /cycle: handlers -> proxy -> handlers/);
  assert.match(out, /cycle: observability -> session -> observability/);
  assert.doesNotMatch(out, /src\/handlers\/types\.ts.*a layer above/, 'the downward half of a cycle is not an upward import');
});

test('check-layers: export-from, nested folders, stray files and unknown folders are checked', { timeout: 30_000 }, async (t) => {
  const root = tree(t, {
    'config/units.ts': "export { Session } from '../session/session.js';\n",
    'session/session.ts': 'export class Session {}\n',
    'proxy/resolvers/sql.ts': "import { x } from '../../handlers/registry.js';\n",
    'handlers/registry.ts': 'export const x = 1;\n',
    'stray.ts': "import { x } from './handlers/registry.js';\n",
    'gadgets/thing.ts': "import { Session } from '../session/session.js';\n",
  });
  const { code, out } = await check(root);
  assert.equal(code, 1, out);
  assert.match(out, /src\/config\/units\.ts:1: .*config may not import session/);
  assert.match(out, /src\/proxy\/resolvers\/sql\.ts:1: .*proxy may not import handlers/);
  assert.match(out, /src\/stray\.ts:1: .*directly under src\/ is in no layer/);
  assert.match(out, /src\/gadgets\/thing\.ts:1: .*src\/gadgets\/ is not in the layer table/);
});

test('check-layers: the --workers processes sit above server, below cli', { timeout: 30_000 }, async (t) => {
  const up = tree(t, {
    'cli/main.ts': "import { go } from '../processes/primary.js';\n",
    'processes/primary.ts': "import { g } from '../server/gateway.js';\nexport const go = g;\n",
    'server/gateway.ts': 'export const g = 1;\n',
  });
  assert.equal((await check(up)).code, 0);
  const down = tree(t, { 'server/gateway.ts': "import { go } from '../processes/primary.js';\n", 'processes/primary.ts': "import { m } from '../cli/main.js';\nexport const go = m;\n", 'cli/main.ts': 'export const m = 1;\n' });
  const { out } = await check(down);
  assert.match(out, /src\/server\/gateway\.ts:1: .*server may not import processes/);
  assert.match(out, /src\/processes\/primary\.ts:1: .*processes may not import cli/);
});

test('check-layers: this repository passes', { timeout: 30_000 }, async () => {
  const { code, out } = await check(REPO_ROOT);
  assert.equal(code, 0, out);
});
