#!/usr/bin/env node
// Checks that src/ imports only point down the layer table below: every
// relative import (static, `export ... from`, type-only, and dynamic
// `import('...')`) of a file in one top folder of src/ must name a file in
// the same folder or in a folder of a lower layer, and no two folders may
// import each other, directly or round a longer cycle. docs/architecture.md
// explains the layers.
//
//   node scripts/check-layers.mjs [ROOT]   (ROOT defaults to the current folder; reads ROOT/src)
//
// Exits 0 when the graph is clean, 1 after printing every offending
// FILE:LINE and the import it makes. TypeScript's own pre-processor finds the
// imports, so comments and strings that look like imports are not taken for
// them.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** Top folders of src/, highest layer first. A folder may import its own files and those of any folder listed after it. */
const LAYERS = [
  ['cli'],
  // The --workers primary and worker processes: they start Gateways.
  ['processes'],
  ['server'],
  ['handlers'],
  ['proxy'],
  // Worker threads drive a Session from another thread, so they sit above it.
  ['worker'],
  ['session'],
  ['observability'],
  ['config'],
];

/** Files directly under src/ that may import from any layer (the public entry point). */
const ENTRY_POINTS = new Set(['index.ts']);

const LEVEL = new Map(LAYERS.flatMap((names, i) => names.map((name) => [name, LAYERS.length - i])));

const root = resolve(process.argv[2] ?? '.');
const src = join(root, 'src');
const problems = [];
/** folder -> folder -> the imports that make that edge, as "file:line: import 'spec'". */
const edges = new Map();

for (const file of sourceFiles(src)) {
  const from = folderOf(file);
  const text = readFileSync(file, 'utf8');
  for (const { fileName: spec, pos } of ts.preProcessFile(text, true, true).importedFiles) {
    if (!spec.startsWith('.')) continue; // packages and node: built-ins
    const where = `${relative(root, file)}:${lineAt(text, pos)}: import '${spec}'`;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(src + sep)) {
      problems.push(`${where}: reaches outside src/`);
      continue;
    }
    const to = folderOf(target);
    if (from === to || (from === '' && ENTRY_POINTS.has(relative(src, file)))) continue;
    if (from === '' || to === '') {
      problems.push(`${where}: a file directly under src/ is in no layer (only ${[...ENTRY_POINTS].join(', ')} may import from src/ at large)`);
      continue;
    }
    const unknown = [from, to].filter((f) => !LEVEL.has(f));
    if (unknown.length > 0) problems.push(`${where}: src/${unknown[0]}/ is not in the layer table of scripts/check-layers.mjs`);
    else if (LEVEL.get(to) > LEVEL.get(from)) problems.push(`${where}: ${from} may not import ${to}, a layer above it`);
    if (!edges.has(from)) edges.set(from, new Map());
    const sites = edges.get(from);
    if (!sites.has(to)) sites.set(to, []);
    sites.get(to).push(where);
  }
}

for (const cycle of folderCycles(edges)) {
  const lines = cycle.map((f, i) => {
    const next = cycle[(i + 1) % cycle.length];
    return `  ${f} -> ${next}: ${edges.get(f).get(next).join('; ')}`;
  });
  problems.push(`folders import each other in a cycle: ${[...cycle, cycle[0]].join(' -> ')}\n${lines.join('\n')}`);
}

if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${shown(src)}:`);
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`check-layers: the imports in ${shown(src)} point down the layers, no folder cycles`);

function shown(dir) {
  const rel = relative(process.cwd(), dir);
  return rel.startsWith('..') ? dir : rel;
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

/** The top folder under src/ ("proxy" for src/proxy/resolvers/sql.ts), or '' for a file directly in src/. */
function folderOf(file) {
  const parts = relative(src, file).split(sep);
  return parts.length > 1 ? parts[0] : '';
}

function lineAt(text, pos) {
  let line = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The folder cycles of the graph: within each strongly connected group of
 * folders (Tarjan), the shortest cycle through each of its edges, each cycle
 * once (so two separate back-and-forths in one group are two cycles).
 */
function folderCycles(graph) {
  const cycles = new Map();
  for (const group of stronglyConnected(graph)) {
    for (const u of [...group].sort()) {
      for (const v of [...graph.get(u).keys()].sort()) {
        if (!group.has(v)) continue;
        const cycle = [u, ...shortestPath(graph, group, v, u).slice(0, -1)];
        const first = cycle.indexOf([...cycle].sort()[0]);
        const canonical = [...cycle.slice(first), ...cycle.slice(0, first)];
        cycles.set(canonical.join(' '), canonical);
      }
    }
  }
  return [...cycles.values()];
}

function stronglyConnected(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const groups = [];
  const visit = (v) => {
    index.set(v, index.size);
    low.set(v, index.get(v));
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const group = new Set();
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        group.add(w);
      } while (w !== v);
      if (group.size > 1) groups.push(group);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return groups;
}

/** The folders from `from` to `to` (both included) by the fewest imports, staying inside `group`. */
function shortestPath(graph, group, from, to) {
  const previous = new Map([[from, null]]);
  const queue = [from];
  while (queue.length > 0) {
    const v = queue.shift();
    if (v === to) break;
    for (const w of [...(graph.get(v)?.keys() ?? [])].sort()) {
      if (group.has(w) && !previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  const path = [];
  for (let u = to; u !== null; u = previous.get(u)) path.unshift(u);
  return path;
}
