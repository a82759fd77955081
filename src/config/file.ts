// Reads a YAML config file, keeping line numbers for error messages.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { ConfigError, type Locator } from './errors.js';
import { buildConfig } from './build.js';
import type { GatewayConfig } from './types.js';

export function loadConfigFile(file: string): GatewayConfig {
  const { value, locate, baseDir } = readYamlFile(file);
  return buildConfig(value, locate, baseDir);
}

/** A YAML file's value, a locator of its fields' lines, and its folder (relative paths in it start there). */
export function readYamlFile(file: string): { value: unknown; locate: Locator; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read: ${(e as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError) {
    const line = lineCounter.linePos(firstError.pos[0]).line;
    throw new ConfigError(`${file}:${line}: invalid YAML: ${firstError.message.split('\n')[0]}`);
  }
  const locate: Locator = (path) => {
    // The deepest node that exists on the path: a missing field is reported at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return `${file}:${lineCounter.linePos(node.range[0]).line}`;
    }
    return file;
  };
  return { value: doc.toJS(), locate, baseDir: dirname(resolve(file)) };
}
