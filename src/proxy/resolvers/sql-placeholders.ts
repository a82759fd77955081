// A user's lookup query names the token with one placeholder, written the
// way they know it: `?` (SQLite, MySQL), `$1` (PostgreSQL) or `%s` (the
// original module's APR DBD style). This rewrites that placeholder into the
// driver's own syntax so the token is always *bound*, never spliced into the
// SQL text. Only placeholders outside string literals, quoted identifiers
// and comments are rewritten.

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

export interface TranslatedQuery {
  /** The SQL in the driver's syntax: `$1` for PostgreSQL, `?` otherwise. */
  sql: string;
  /** How many values to bind (the token, once per placeholder; always 1 for PostgreSQL). */
  count: number;
}

type Style = '$1' | '%s' | '?';

/** A code piece (rewritable) or a literal/comment piece (kept as is). */
interface Piece {
  code: boolean;
  text: string;
}

/**
 * Rewrites the token placeholders of `query` for `dialect`. If several
 * styles appear, `$1` wins over `%s` over `?` (so PostgreSQL's jsonb `?`
 * operator survives next to `$1`). Throws an Error whose message suits a
 * config error when there is no placeholder or a second parameter (`$2`).
 */
export function translatePlaceholders(query: string, dialect: Dialect): TranslatedQuery {
  const pieces = split(query, dialect);
  const code = pieces.filter((p) => p.code).map((p) => p.text).join(' ');
  if (/(?<![\w$])\$(?:[2-9]|1\d)/.test(code)) throw new Error('has a second parameter ($2...): the token is the only value bound');
  const style: Style | null = /(?<![\w$])\$1(?!\d)/.test(code) ? '$1' : /%s(?![A-Za-z0-9_])/.test(code) ? '%s' : code.includes('?') ? '?' : null;
  if (!style) throw new Error('has no placeholder for the token (write ?, $1 or %s where the token goes)');
  const pattern = style === '$1' ? /(?<![\w$])\$1(?!\d)/g : style === '%s' ? /%s(?![A-Za-z0-9_])/g : /\?/g;
  const target = dialect === 'postgres' ? '$1' : '?';
  let count = 0;
  const sql = pieces
    .map((p) =>
      p.code
        ? p.text.replace(pattern, () => {
            count++;
            return target;
          })
        : p.text,
    )
    .join('');
  return { sql, count: dialect === 'postgres' ? 1 : count };
}

/** Splits SQL into code and non-code (strings, quoted names, comments) pieces. */
function split(sql: string, dialect: Dialect): Piece[] {
  const pieces: Piece[] = [];
  let start = 0;
  let i = 0;
  const push = (code: boolean, end: number) => {
    if (end > start) pieces.push({ code, text: sql.slice(start, end) });
    start = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    let end = -1;
    if (c === "'") {
      // MySQL always, PostgreSQL only in E'...' strings, treat backslash as an escape.
      const escapes = dialect === 'mysql' || (dialect === 'postgres' && /[eE]$/.test(sql.slice(0, i)) && !/[A-Za-z0-9_][eE]$/.test(sql.slice(0, i)));
      end = quoted(sql, i, "'", escapes);
    } else if (c === '"') {
      end = quoted(sql, i, '"', dialect === 'mysql');
    } else if (c === '`' && dialect !== 'postgres') {
      end = quoted(sql, i, '`', false);
    } else if (c === '[' && dialect === 'sqlite') {
      const close = sql.indexOf(']', i + 1);
      end = close < 0 ? sql.length : close + 1;
    } else if ((c === '-' && next === '-') || (c === '#' && dialect === 'mysql')) {
      const nl = sql.indexOf('\n', i);
      end = nl < 0 ? sql.length : nl;
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      end = close < 0 ? sql.length : close + 2;
    } else if (c === '$' && dialect === 'postgres') {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag && !/[A-Za-z0-9_]$/.test(sql.slice(0, i))) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close < 0 ? sql.length : close + tag[0].length;
      }
    }
    if (end < 0) {
      i++;
      continue;
    }
    push(true, i);
    push(false, end);
    i = end;
  }
  push(true, sql.length);
  return pieces;
}

/** The index just past the quoted run that starts at `from` (a doubled quote stays inside). */
function quoted(sql: string, from: number, quote: string, backslashEscapes: boolean): number {
  let i = from + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}
