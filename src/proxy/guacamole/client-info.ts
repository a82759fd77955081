// What the browser says about itself in the tunnel URL's query string, under
// the names Guacamole's web application uses (GUAC_WIDTH, GUAC_HEIGHT,
// GUAC_DPI, GUAC_TIMEZONE, repeated GUAC_AUDIO / GUAC_VIDEO / GUAC_IMAGE),
// for the `size`, `audio`, `video`, `image` and `timezone` instructions of
// the guacd handshake. A value out of range is ignored (the default stays),
// as Guacamole's server does; nothing here can reach guacd unchecked.
import type { ClientInfo } from './guacd-handshake.js';

/** guacamole-common's GuacamoleClientInformation defaults. */
const DEFAULTS = { width: 1024, height: 768, dpi: 96 };
const MIMETYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(;[a-z0-9=,._ -]*)?$/i;
const TIMEZONE = /^[A-Za-z0-9_+\-/]{1,64}$/;
/** Formats per kind; a browser lists a handful. */
const MAX_TYPES = 32;

export function clientInfoFromQuery(query: URLSearchParams, name?: string): ClientInfo {
  const int = (key: string, fallback: number, max: number) => {
    const text = query.get(key);
    const n = text !== null && /^\d{1,6}$/.test(text) ? Number(text) : NaN;
    return n >= 1 && n <= max ? n : fallback;
  };
  const types = (key: string) => query.getAll(key).filter((t) => t.length <= 128 && MIMETYPE.test(t)).slice(0, MAX_TYPES);
  const timezone = query.get('GUAC_TIMEZONE');
  return {
    width: int('GUAC_WIDTH', DEFAULTS.width, 16384),
    height: int('GUAC_HEIGHT', DEFAULTS.height, 16384),
    dpi: int('GUAC_DPI', DEFAULTS.dpi, 2400),
    audio: types('GUAC_AUDIO'),
    video: types('GUAC_VIDEO'),
    image: types('GUAC_IMAGE'),
    ...(timezone !== null && TIMEZONE.test(timezone) ? { timezone } : {}),
    ...(name !== undefined ? { name } : {}),
  };
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
