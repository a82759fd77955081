// wsgate's noVNC page (served as /vnc.html and /index.html by --novnc): a
// small client on the @novnc/novnc library, which ships no application of
// its own. It reads noVNC's URL parameters (docs/novnc.md lists them), so
// links written for noVNC's vnc.html keep working.
//
// The page is a plain HTML file next to this module, so that it can be read
// and edited as HTML; `npm run build` copies it into dist/ beside the
// compiled module (tsc copies only code), and `files` ships it from there.
// Read once, when the gateway loads.
import { readFileSync } from 'node:fs';

export const NOVNC_PAGE = readFileSync(new URL('./novnc-page.html', import.meta.url), 'utf8');
