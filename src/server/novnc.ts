// `--novnc` / `web: novnc`: the web root is the installed @novnc/novnc
// package (its core/ and vendor/ folders, the library every noVNC client is
// built on), plus wsgate's client page as /vnc.html and /index.html, so that
// `wsgate --novnc 6080 host:5901` and http://host:6080/vnc.html is all it takes.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { existsSync } from 'node:fs';
import { NOVNC_PAGE } from './novnc-page.js';
import { StaticFiles } from './static-files.js';

/** The folder of the installed @novnc/novnc package (the one holding core/rfb.js). */
export function novncDir(): string {
  // The package exports only core/rfb.js, so resolve that and climb out of core/.
  const rfb = createRequire(import.meta.url).resolve('@novnc/novnc');
  const dir = dirname(dirname(rfb));
  if (!existsSync(`${dir}/core/rfb.js`)) throw new Error(`@novnc/novnc at ${dir} has no core/rfb.js`);
  return dir;
}

export function novncStaticFiles(): StaticFiles {
  const page = { body: Buffer.from(NOVNC_PAGE), type: 'text/html; charset=utf-8' };
  return new StaticFiles(novncDir(), { '/vnc.html': page, '/index.html': page });
}
