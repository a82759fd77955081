// The client's settings, under noVNC's URL parameter names so that links made
// for noVNC's vnc.html keep working. A value comes from the URL fragment
// (never sent to any server, so the place for a password), else the query,
// else what the user last chose in the settings panel (localStorage), else
// the default. A value set by the URL is used for this page only; changes
// made in the panel are remembered. The password is never stored.

const STORAGE_PREFIX = 'wsgate.novnc.';

/** name -> { kind, fallback[, choices][, min, max][, url: only from the URL][, stored: false] } */
export const SETTINGS = {
  autoconnect: { kind: 'bool', fallback: false, url: true },
  password: { kind: 'string', fallback: null, url: true },
  host: { kind: 'string', fallback: '' },
  port: { kind: 'string', fallback: '' },
  encrypt: { kind: 'bool', fallback: location.protocol === 'https:' },
  path: { kind: 'string', fallback: 'websockify' },
  repeaterID: { kind: 'string', fallback: '' },
  shared: { kind: 'bool', fallback: true },
  view_only: { kind: 'bool', fallback: false },
  view_clip: { kind: 'bool', fallback: false },
  resize: { kind: 'choice', fallback: 'off', choices: ['off', 'scale', 'remote'] },
  quality: { kind: 'int', fallback: 6, min: 0, max: 9 },
  compression: { kind: 'int', fallback: 2, min: 0, max: 9 },
  show_dot: { kind: 'bool', fallback: false },
  reconnect: { kind: 'bool', fallback: false },
  reconnect_delay: { kind: 'int', fallback: 5000, min: 0, max: 3_600_000 },
  bell: { kind: 'bool', fallback: true },
  keep_device_awake: { kind: 'bool', fallback: false },
  logging: { kind: 'choice', fallback: 'warn', choices: ['none', 'error', 'warn', 'info', 'debug'] },
};

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

/** A raw string as the setting's kind, or undefined if it is not a valid value. */
function parse(spec, raw) {
  switch (spec.kind) {
    case 'bool': {
      const v = raw.trim().toLowerCase();
      return TRUE.includes(v) ? true : FALSE.includes(v) ? false : undefined;
    }
    case 'int': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isInteger(n) && n >= spec.min && n <= spec.max ? n : undefined;
    }
    case 'choice':
      return spec.choices.includes(raw) ? raw : undefined;
    default:
      return raw;
  }
}

function storage() {
  try {
    return window.localStorage; // throws where storage is disabled
  } catch {
    return null;
  }
}

export class Settings {
  #fromUrl = new Map();
  #values = new Map();
  #listeners = [];
  #remember;

  /** `remember: false`: the URL and the defaults only, nothing read from or written to storage. */
  constructor({ href = location.href, remember = true } = {}) {
    this.#remember = remember;
    const url = new URL(href);
    const query = url.searchParams;
    const fragment = new URLSearchParams(url.hash.slice(1));
    for (const [name, spec] of Object.entries(SETTINGS)) {
      for (const source of [fragment, query]) {
        const raw = source.get(name);
        const value = raw === null ? undefined : parse(spec, raw);
        if (value !== undefined) {
          this.#fromUrl.set(name, value);
          break;
        }
        if (raw !== null) console.warn(`noVNC: ignoring ${name}=${raw}: not a valid value`);
      }
      this.#values.set(name, this.#fromUrl.has(name) ? this.#fromUrl.get(name) : this.#stored(name, spec));
    }
  }

  #stored(name, spec) {
    if (spec.url || !this.#remember) return spec.fallback;
    const raw = storage()?.getItem(STORAGE_PREFIX + name);
    const value = raw == null ? undefined : parse(spec, raw);
    return value === undefined ? spec.fallback : value;
  }

  get(name) {
    if (!this.#values.has(name)) throw new Error(`no setting ${name}`);
    return this.#values.get(name);
  }

  /** True when the URL gave this setting. */
  fromUrl(name) {
    return this.#fromUrl.has(name);
  }

  /** Sets a value chosen by the user (remembered, except URL-only ones) and tells the listeners. */
  set(name, value) {
    const spec = SETTINGS[name];
    if (!spec) throw new Error(`no setting ${name}`);
    const parsed = typeof value === 'string' && spec.kind !== 'string' ? parse(spec, value) : value;
    if (parsed === undefined || parsed === this.#values.get(name)) return;
    this.#values.set(name, parsed);
    if (!spec.url && this.#remember) storage()?.setItem(STORAGE_PREFIX + name, String(parsed));
    for (const listener of this.#listeners) listener(name, parsed);
  }

  onChange(listener) {
    this.#listeners.push(listener);
  }
}
