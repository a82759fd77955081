// What may go into a close frame we send (RFC 6455 §5.5.1, §7.4).

/** Codes an endpoint may put in a close frame; 1004-1006 and 1015 are reserved, 1015+ unassigned. */
export function isSendableCloseCode(code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
}

/** A close reason may carry at most 123 bytes of UTF-8; longer ones are cut at a character boundary. */
export function fitCloseReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let out = '';
  for (const ch of reason) {
    if (Buffer.byteLength(out + ch) > 120) break;
    out += ch;
  }
  return out + '...';
}
