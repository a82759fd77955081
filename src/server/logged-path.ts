// The request path as a log line may show it. The query is never logged, but
// a client can put a secret in the path itself: a token sent as
// `/websockify%3Ftoken=SECRET` (an escaped `?`), or path-style as
// `/vnc/SECRET`, and the catch-all route `*` accepts any path. So no log line
// shows a path as the client sent it. The rule:
//   1. the path is cut at its first `%`, `=`, `&` or `;` (an escape, or a
//      parameter, is where a secret would start);
//   2. what is left is shown only as far as it is a known path: a configured
//      route path, or `/` and `/websockify` (what wsgate's noVNC page and
//      websockify clients use by default); the longest one it starts with,
//      whole segments only;
//   3. anything cut or beyond that known path is written `…`.
// `/vnc` -> `/vnc`, `/vnc%3Ftoken=x` -> `/vnc…`, `/vnc/x` -> `/vnc/…`,
// `/x` -> `/…`. A logged path is thus a known path, perhaps followed by `…`:
// it cannot carry anything the client chose.

const WELL_KNOWN = new Set(['/', '/websockify']);

export function loggedPath(pathname: string, isRoutePath: (path: string) => boolean): string {
  const known = (path: string) => WELL_KNOWN.has(path) || isRoutePath(path);
  const cut = pathname.search(/[%=&;]/);
  const kept = cut < 0 ? pathname : pathname.slice(0, cut);
  // The longest candidate first; a candidate ends at the end of `kept` or next to a '/' (whole segments).
  for (let end = kept.length; end > 0; end--) {
    if (end < kept.length && kept[end] !== '/' && kept[end - 1] !== '/') continue;
    const candidate = kept.slice(0, end);
    if (!known(candidate)) continue;
    if (end < kept.length) return `${candidate}${candidate.endsWith('/') ? '' : '/'}…`;
    return cut < 0 ? candidate : `${candidate}…`;
  }
  return '/…';
}
