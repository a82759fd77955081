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

/**
 * The close code `ws` sends for each of its receiver errors (ws/lib/receiver.js),
 * so that the log shows the code that went out on the wire. A unit test reads
 * ws's source and fails if ws adds or changes one.
 */
export const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_EXPECTED_FIN: 1002,
  WS_ERR_EXPECTED_MASK: 1002,
  WS_ERR_INVALID_CLOSE_CODE: 1002,
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 1002,
  WS_ERR_INVALID_OPCODE: 1002,
  WS_ERR_UNEXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_RSV_1: 1002,
  WS_ERR_UNEXPECTED_RSV_2_3: 1002,
  WS_ERR_INVALID_UTF8: 1007,
  // More than 16,384 fragments in one message, or too many buffered chunks.
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
};

/** The code `ws` closed with after one of its errors (1002, a protocol error, for any it does not name). */
export function closeCodeForWsError(code: string | undefined): number {
  return WS_ERROR_CLOSE_CODES[code ?? ''] ?? 1002;
}
