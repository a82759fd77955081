// `--novnc` / `web: novnc`: the noVNC client on the gateway's port, so that
// `wsgate --novnc 6080 host:5901` and http://host:6080/vnc.html is all it takes.
//
// Two clients can be served. noVNC's own application (vnc.html with app/ and
// core/) is used when the machine has one (Debian's and Fedora's `novnc`
// package put it in /usr/share/novnc) or when a checkout is named
// (`--novnc-app DIR`, `web: { novnc: DIR }`). Otherwise wsgate serves its own
// client (novnc-app/ next to this module: vnc.html, vnc_lite.html and their
// modules in client/) over the @novnc/novnc package, which holds noVNC's
// library (core/, vendor/) but not its application. Either way `/` and
// `/index.html` are vnc.html and `/vnc_auto.html` (the name vnc_lite.html had
// before noVNC 1.0) is vnc_lite.html, unless the directory has files of those names.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NovncApp } from '../config/types.js';
import { StaticFiles } from './static-files.js';

/** Where distributions install noVNC's application (Debian, Ubuntu, Fedora, Alpine; Arch). */
export const INSTALLED_NOVNC_DIRS = ['/usr/share/novnc', '/usr/share/webapps/novnc'];

/** Paths answered with another file when the directory has no file of that name. */
const ALIASES: Record<string, string> = {
  '/': '/vnc.html',
  '/index.html': '/vnc.html',
  '/vnc_auto.html': '/vnc_lite.html',
};

/** The folder of the installed @novnc/novnc package (the one holding core/rfb.js). */
export function novncDir(): string {
  // The package exports only core/rfb.js, so resolve that and climb out of core/.
  const rfb = createRequire(import.meta.url).resolve('@novnc/novnc');
  const dir = dirname(dirname(rfb));
  if (!existsSync(`${dir}/core/rfb.js`)) throw new Error(`@novnc/novnc at ${dir} has no core/rfb.js`);
  return dir;
}

/** wsgate's own client pages and modules (`npm run build` copies the folder into dist/). */
export function builtinAppDir(): string {
  return fileURLToPath(new URL('./novnc-app/', import.meta.url));
}

/** A noVNC application: a vnc.html next to the core library it loads. */
function isNovncApp(dir: string): boolean {
  return existsSync(join(dir, 'vnc.html')) && existsSync(join(dir, 'core', 'rfb.js'));
}

/** The first of `candidates` that holds noVNC's application, or null. */
export function findInstalledNovnc(candidates: readonly string[] = INSTALLED_NOVNC_DIRS): string | null {
  return candidates.find(isNovncApp) ?? null;
}

/** What is served for `app`: a noVNC application's directory, or wsgate's own client. */
export function resolveNovncApp(app: NovncApp, candidates?: readonly string[]): { dir: string } | 'builtin' {
  if (app === 'builtin') return 'builtin';
  if (app !== 'auto') return app;
  const found = findInstalledNovnc(candidates);
  return found ? { dir: found } : 'builtin';
}

/** Static files looked up in each root in turn, then under the alias of their path. */
export class NovncFiles {
  readonly #roots: StaticFiles[];
  /** For the startup log: which client this is. */
  readonly description: string;

  constructor(app: NovncApp, candidates?: readonly string[]) {
    const chosen = resolveNovncApp(app, candidates);
    if (chosen === 'builtin') {
      this.#roots = [new StaticFiles(builtinAppDir()), new StaticFiles(novncDir())];
      this.description = `wsgate's noVNC client on @novnc/novnc (${novncDir()})`;
    } else {
      this.#roots = [new StaticFiles(chosen.dir)];
      this.description = `noVNC's application in ${chosen.dir}`;
    }
  }

  async serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (await this.#serveFrom(req, res, url)) return true;
    const alias = ALIASES[url.pathname];
    if (alias === undefined) return false;
    const aliased = new URL(url);
    aliased.pathname = alias;
    return this.#serveFrom(req, res, aliased);
  }

  async #serveFrom(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    for (const root of this.#roots) if (await root.serve(req, res, url)) return true;
    return false;
  }
}
