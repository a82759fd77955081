// What the browser says about itself in the tunnel URL's query string, under
// the names Guacamole's web application uses (GUAC_WIDTH, GUAC_HEIGHT,
// GUAC_DPI, GUAC_TIMEZONE, repeated GUAC_AUDIO / GUAC_VIDEO / GUAC_IMAGE),
// for the `size`, `audio`, `video`, `image` and `timezone` instructions of
// the guacd handshake. Without them, the connection's settings of the same
// meaning (`width`, `height`, `dpi`, `audio`, `video`, `image`, `timezone`:
// guacamole-lite's model) apply, then Guacamole's defaults. A value out of
// range is ignored, as Guacamole's server does; nothing here reaches guacd
// unchecked.
import type { ClientInfo } from './guacd-handshake.js';

/** guacamole-common's GuacamoleClientInformation defaults. */
const DEFAULTS = { width: 1024, height: 768, dpi: 96 };
const MIMETYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(;[a-z0-9=,._ -]*)?$/i;
const TIMEZONE = /^[A-Za-z0-9_+\-/]{1,64}$/;
/** Formats per kind; a browser lists a handful. */
const MAX_TYPES = 32;

export function clientInfo(query: URLSearchParams, settings: Readonly<Record<string, string>>): ClientInfo {
  const int = (text: string | null | undefined, max: number) => {
    const n = text != null && /^\d{1,6}$/.test(text) ? Number(text) : NaN;
    return n >= 1 && n <= max ? n : undefined;
  };
  const size = (key: string, setting: string, fallback: number, max: number) => int(query.get(key), max) ?? int(settings[setting], max) ?? fallback;
  const types = (key: string, setting: string) => {
    const given = query.getAll(key);
    const list = given.length > 0 ? given : settingList(settings[setting]);
    return list.filter((t) => t.length <= 128 && MIMETYPE.test(t)).slice(0, MAX_TYPES);
  };
  const timezone = [query.get('GUAC_TIMEZONE'), settings.timezone].find((t) => t != null && TIMEZONE.test(t));
  return {
    width: size('GUAC_WIDTH', 'width', DEFAULTS.width, 16384),
    height: size('GUAC_HEIGHT', 'height', DEFAULTS.height, 16384),
    dpi: size('GUAC_DPI', 'dpi', DEFAULTS.dpi, 2400),
    audio: types('GUAC_AUDIO', 'audio'),
    video: types('GUAC_VIDEO', 'video'),
    image: types('GUAC_IMAGE', 'image'),
    ...(timezone != null ? { timezone } : {}),
    ...(settings.name !== undefined ? { name: settings.name } : {}),
  };
}

/** A setting that lists formats: a JSON array (as stores write lists) or one format. */
function settingList(value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  if (!value.startsWith('[')) return [value];
  try {
    const list: unknown = JSON.parse(value);
    return Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string') : [];
  } catch {
    return [];
  }
}

/** The connection settings a route lets the client set in the query string (`clientSettings`), by the same names. */
export function clientSettingsFromQuery(query: URLSearchParams, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of allowed) {
    const value = query.get(name);
    if (value !== null && value.length <= 1024) out[name] = value;
  }
  return out;
}
