// How bytes ride in WebSocket messages: `binary` frames as they are, or
// `base64` text frames (websockify's and old noVNC's subprotocols).

export type Encoding = 'binary' | 'base64';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes a client's base64 message, or returns null if it is not valid padded base64. */
export function decodeBase64(data: Buffer): Buffer | null {
  const text = data.toString('latin1');
  if (text.length % 4 !== 0 || !BASE64.test(text)) return null;
  return Buffer.from(text, 'base64');
}

/** Picks the encoding for a client's offer; null when it offered only subprotocols this route does not speak. */
export function chooseSubprotocol(offered: readonly string[], accepted: readonly string[]): { protocol?: string; encoding: Encoding } | null {
  if (offered.length === 0) return { encoding: 'binary' }; // current noVNC offers none
  const protocol = accepted.find((p) => offered.includes(p));
  if (!protocol) return null;
  return { protocol, encoding: protocol === 'base64' ? 'base64' : 'binary' };
}
