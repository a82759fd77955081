// The request path a log line may show: a known path, perhaps followed by "…", never what the client added.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loggedPath } from '../../src/server/logged-path.js';

const routes = new Set(['/vnc', '/a/b', '/dir/']);
const logged = (path: string) => loggedPath(path, (p) => routes.has(p));

test('a configured route path is logged as it is', () => {
  for (const path of ['/vnc', '/a/b', '/dir/', '/', '/websockify']) assert.equal(logged(path), path);
});

test('what follows a known path is written "…"', () => {
  const cases: Array<[string, string]> = [
    ['/vnc%3Ftoken=SECRET', '/vnc…'],
    ['/websockify%3Ftoken=SECRET', '/websockify…'],
    ['/websockify%3ftoken%3dSECRET', '/websockify…'],
    ['/vnc/SECRET', '/vnc/…'],
    ['/vnc/SECRET/more', '/vnc/…'],
    ['/vnc/', '/vnc/…'],
    ['/vnc=SECRET', '/vnc…'],
    ['/vnc;jsessionid=SECRET', '/vnc…'],
    ['/vnc&token=SECRET', '/vnc…'],
    ['/a/b/SECRET', '/a/b/…'],
    ['/dir/SECRET', '/dir/…'],
    ['/%3Ftoken=SECRET', '/…'],
  ];
  for (const [path, want] of cases) assert.equal(logged(path), want, path);
});

test('a path that starts with no known path is "/…"', () => {
  for (const path of ['/SECRET', '/vncSECRET', '/a/SECRET', '/a', '/v%6Ec', '/%2Fvnc', '/websockifySECRET']) assert.equal(logged(path), '/…', path);
});
