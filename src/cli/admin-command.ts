// `wsgate sessions | kill ID | drain | reload`: clients of a running
// gateway's admin API (src/server/admin.ts). The API's address comes from
// --admin URL, or from the config file's `admin:` block (--config); the
// bearer token from --token-file or that block's tokenFile.
// Exit codes: 0 done, 1 the gateway refused or could not be reached, 2 bad usage.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import { loadConfigFile } from '../config/file.js';
import { formatHostPort } from '../config/host-port.js';
import type { SessionSummary } from '../observability/session-list.js';

type AdminCommand = 'sessions' | 'kill' | 'drain' | 'reload';

export const ADMIN_HELP = `Usage: wsgate sessions [--json] [where]
       wsgate kill ID [--code CODE] [--reason TEXT] [where]
       wsgate drain [where]
       wsgate reload [where]

Talk to a running gateway's admin API (the config file's "admin:" block).
  sessions      list the live sessions (every worker's) as a table; --json as JSON
  kill ID       close session ID with CODE (default 1000) and REASON (default none)
  drain         take no new sessions (503); open ones go on; prints how many are open
  reload        read the config file again and apply it (as SIGHUP)

Where (one of):
  --admin URL         the admin API, e.g. http://127.0.0.1:8081 or http://127.0.0.1:8080/admin
  --config FILE       the gateway's config file: its admin.listen or admin.path
  --token-file FILE   the bearer token (default: the config's admin.tokenFile, if readable)
`;

const OPTIONS = {
  admin: { type: 'string' },
  config: { type: 'string' },
  'token-file': { type: 'string' },
  code: { type: 'string' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runAdminCommand(command: AdminCommand, argv: string[]): Promise<number> {
  let values;
  let positionals;
  // A session id may start with "-" (base64url): kill's first argument is the id unless it is a long option or -h.
  const leadingId = command === 'kill' && argv[0] !== undefined && !argv[0].startsWith('--') && argv[0] !== '-h' ? [argv[0]] : [];
  try {
    ({ values, positionals } = parseArgs({ args: argv.slice(leadingId.length), options: OPTIONS, allowPositionals: true, strict: true }));
    positionals = [...leadingId, ...positionals];
  } catch (e) {
    return usage((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(ADMIN_HELP);
    return 0;
  }
  const wantsId = command === 'kill';
  if (positionals.length !== (wantsId ? 1 : 0)) return usage(wantsId ? 'kill takes one session ID' : `${command} takes no arguments`);
  if (!wantsId && (values.code !== undefined || values.reason !== undefined)) return usage('--code and --reason go with kill');
  let where: { url: string; token: string | null };
  try {
    where = adminAddress(values.admin, values.config, values['token-file']);
  } catch (e) {
    if (e instanceof ConfigError) return usage(e.message);
    throw e;
  }
  const code = values.code === undefined ? 1000 : Number(values.code);
  if (!Number.isInteger(code)) return usage(`--code must be a number (got "${values.code}")`);

  const request = (method: string, path: string, body?: unknown) => call(where, method, path, body);
  try {
    if (command === 'sessions') {
      const { status, body } = await request('GET', '/sessions');
      if (status !== 200) return failed(status, body);
      const sessions = (body as { sessions: SessionSummary[] }).sessions;
      process.stdout.write(values.json ? JSON.stringify(sessions, null, 2) + '\n' : sessionTable(sessions));
      return 0;
    }
    if (command === 'kill') {
      const { status, body } = await request('POST', `/sessions/${encodeURIComponent(positionals[0]!)}/close`, { code, reason: values.reason ?? '' });
      if (status !== 200) return failed(status, body);
      process.stdout.write(`closed ${positionals[0]} with ${code}${values.reason ? ` "${values.reason}"` : ''}\n`);
      return 0;
    }
    if (command === 'drain') {
      const { status, body } = await request('POST', '/drain');
      if (status !== 200) return failed(status, body);
      process.stdout.write(`draining: no new sessions; ${(body as { sessions: number }).sessions} still open\n`);
      return 0;
    }
    const { status, body } = await request('POST', '/reload');
    if (status !== 200) return failed(status, body);
    process.stdout.write(`reloaded: routes ${(body as { routes: string[] }).routes.join(', ')}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`wsgate ${command}: cannot reach the admin API at ${where.url}: ${(e as Error).cause ? String((e as { cause: Error }).cause.message) : (e as Error).message}\n`);
    return 1;
  }
}

/** The admin API's base URL and token, from --admin / --config / --token-file. */
function adminAddress(admin: string | undefined, configFile: string | undefined, tokenFile: string | undefined): { url: string; token: string | null } {
  let url = admin ?? null;
  let configuredToken: string | null = null;
  if (configFile !== undefined) {
    const config = loadConfigFile(configFile);
    if (!config.admin) throw new ConfigError(`${configFile} has no "admin:" block: the gateway serves no admin API`);
    configuredToken = config.admin.tokenFile;
    if (!url && config.admin.listen) url = `http://${formatHostPort(config.admin.listen.host ?? '127.0.0.1', config.admin.listen.port)}`;
    if (!url && config.admin.path) {
      const main = config.listen[0]!;
      const host = !main.host || main.host === '0.0.0.0' || main.host === '::' ? '127.0.0.1' : main.host;
      url = `${config.tls ? 'https' : 'http'}://${formatHostPort(host, main.port)}${config.admin.path}`;
    }
  }
  if (!url) throw new ConfigError('where is the gateway? give --admin URL or --config FILE (with an "admin:" block)');
  if (!/^https?:\/\//.test(url)) throw new ConfigError(`--admin must be an http:// or https:// URL (got "${url}")`);
  const file = tokenFile ?? configuredToken;
  let token: string | null = null;
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      if (tokenFile !== undefined) throw new ConfigError(`--token-file ${file}: cannot read: ${(e as Error).message}`);
    }
  }
  return { url: url.replace(/\/+$/, ''), token };
}

async function call(where: { url: string; token: string | null }, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${where.url}${path}`, {
    method,
    headers: { ...(where.token ? { Authorization: `Bearer ${where.token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text.trim() };
  }
}

/** The sessions as aligned columns, oldest first. */
export function sessionTable(sessions: SessionSummary[]): string {
  if (sessions.length === 0) return 'no sessions\n';
  const rows = [...sessions]
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
    .map((s) => [s.id, String(s.worker ?? '-'), s.path, s.remote, s.target || '-', s.startedAt.replace(/\.\d+Z$/, 'Z'), String(s.bytesIn), String(s.bytesOut), s.paused ? `paused ${s.bufferedAmount}` : String(s.bufferedAmount)]);
  const head = ['ID', 'WORKER', 'PATH', 'CLIENT', 'TARGET', 'STARTED', 'IN', 'OUT', 'QUEUED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function failed(status: number, body: unknown): number {
  const error = typeof body === 'object' && body && 'error' in body ? String((body as { error: unknown }).error) : String(body);
  process.stderr.write(`wsgate: the admin API answered ${status}: ${error}\n`);
  return 1;
}

function usage(message: string): number {
  process.stderr.write(`wsgate: ${message}\n(wsgate sessions --help lists the options)\n`);
  return 2;
}
