// The static web root (websockify's --web) on the WebSocket port: GET and
// HEAD of regular files below one directory, streamed, with validators for
// 304s. Never a directory listing (websockify's --file-only), never a file
// outside the root: encoded "..", NUL bytes and symlinks leading out are refused.
import { constants, realpathSync, statSync, type Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, sep, extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answer } from './http-answers.js';

/** A file that exists only in memory (e.g. wsgate's noVNC page), served as if it were in the root. */
export interface VirtualFile {
  body: Buffer;
  type: string;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.mp3': 'audio/mpeg',
  '.oga': 'audio/ogg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
};

export function mimeType(name: string): string {
  return MIME[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export class StaticFiles {
  readonly #root: string;
  readonly #virtual: Map<string, VirtualFile & { etag: string }>;
  readonly #virtualSince = new Date();

  /** `root` must be an existing directory (checked here, so a bad root fails at startup). */
  constructor(root: string, virtual: Record<string, VirtualFile> = {}) {
    if (!statSync(root).isDirectory()) throw new Error(`${root} is not a directory`);
    this.#root = realpathSync(root);
    this.#virtual = new Map(
      Object.entries(virtual).map(([p, f]) => [p, { ...f, etag: `"${createHash('sha1').update(f.body).digest('base64url').slice(0, 20)}"` }]),
    );
  }

  /**
   * Answers the request if its path names a file (or a directory with an
   * index.html) below the root; resolves false when it does not, so the
   * caller can answer 404 (or 426 for a WebSocket path).
   */
  async serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const rel = safeRelativePath(url.pathname);
    if (rel === null) return false;
    const wantsDirectory = url.pathname.endsWith('/');
    const virtual = this.#virtual.get(['', ...rel, ...(wantsDirectory ? ['index.html'] : [])].join('/'));
    if (virtual) return this.#answer(req, res, { size: virtual.body.length, mtime: this.#virtualSince, etag: virtual.etag, type: virtual.type }, virtual.body);

    const found = await this.#find(rel, wantsDirectory);
    if (!found) return false;
    if (found === 'redirect') {
      // "/dir" -> "/dir/", so that the index page's relative links resolve inside the directory.
      // Built from the decoded segments: "//host" can never become a redirect to another site.
      const location = `/${rel.map(encodeURIComponent).join('/')}/${url.search}`;
      res.writeHead(301, { Location: location, 'Content-Length': 0, 'Cache-Control': 'no-cache' });
      res.end();
      return true;
    }
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: the resolved path had no symlink left; refuse one swapped in since.
      handle = await open(found.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return false;
    }
    try {
      const { stats } = found;
      return await this.#answer(req, res, { size: stats.size, mtime: stats.mtime, etag: fileEtag(stats), type: mimeType(found.path) }, handle);
    } finally {
      await handle.close().catch(() => {});
    }
  }

  /** Resolves `rel` below the root, following symlinks only while they stay inside it. */
  async #find(rel: string[], wantsDirectory: boolean): Promise<{ path: string; stats: Stats } | 'redirect' | null> {
    const inside = (p: string | null): p is string => p !== null && (p === this.#root || p.startsWith(this.#root + sep));
    let path: string | null = await realpath(join(this.#root, ...rel)).catch(() => null); // missing, dangling, or unreadable
    if (!inside(path)) return null;
    let stats = await stat(path).catch(() => null);
    if (stats?.isDirectory()) {
      if (!wantsDirectory) return 'redirect';
      path = await realpath(join(path, 'index.html')).catch(() => null);
      if (!inside(path)) return null;
      stats = await stat(path).catch(() => null);
    } else if (wantsDirectory) {
      return null; // "/file.html/" names no directory
    }
    return stats?.isFile() ? { path, stats } : null;
  }

  async #answer(
    req: IncomingMessage,
    res: ServerResponse,
    meta: { size: number; mtime: Date; etag: string; type: string },
    body: Buffer | FileHandle,
  ): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
      return true;
    }
    const headers = {
      ETag: meta.etag,
      'Last-Modified': meta.mtime.toUTCString(),
      // Revalidate every time: a web root changed on disk is seen at once, at the cost of a 304.
      'Cache-Control': 'no-cache',
    };
    if (notModified(req, meta.etag, meta.mtime)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    res.writeHead(200, { ...headers, 'Content-Type': meta.type, 'Content-Length': meta.size, 'X-Content-Type-Options': 'nosniff' });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    if (Buffer.isBuffer(body)) {
      res.end(body);
      return true;
    }
    // Streamed, so a large file costs a few chunks of memory; stop at the size announced.
    const stream = body.createReadStream({ start: 0, end: Math.max(0, meta.size - 1), autoClose: false });
    if (meta.size === 0) {
      stream.destroy();
      res.end();
      return true;
    }
    await pipeline(stream, res).catch(() => res.destroy()); // the client went away, or a read failed
    return true;
  }
}

/**
 * The decoded path segments of `pathname`, or null if it could leave the
 * root or names a hidden file: "." / ".." segments (also percent-encoded,
 * which the URL parser leaves encoded when a "/" is encoded too), NUL bytes,
 * backslashes, and dot-files.
 */
export function safeRelativePath(pathname: string): string[] | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s.startsWith('.'))) return null;
  return segments;
}

function fileEtag(stats: Stats): string {
  return `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
}

/** RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only otherwise. */
function notModified(req: IncomingMessage, etag: string, mtime: Date): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    const weak = (t: string) => t.trim().replace(/^W\//, '');
    return inm.trim() === '*' || inm.split(',').some((t) => weak(t) === weak(etag));
  }
  const ims = req.headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}
