// Guacamole status codes and the WebSocket close code Guacamole pairs with
// each (guacamole-common's GuacamoleStatus). The web client reads a close
// frame's reason as a decimal status (`parseInt(event.reason)`), so every
// close of a Guacamole session carries one; the descriptive reason goes to
// the log instead.

export const GuacamoleStatus = {
  SUCCESS: 0x0000,
  UNSUPPORTED: 0x0100,
  SERVER_ERROR: 0x0200,
  SERVER_BUSY: 0x0201,
  UPSTREAM_TIMEOUT: 0x0202,
  UPSTREAM_ERROR: 0x0203,
  RESOURCE_NOT_FOUND: 0x0204,
  RESOURCE_CONFLICT: 0x0205,
  RESOURCE_CLOSED: 0x0206,
  UPSTREAM_NOT_FOUND: 0x0207,
  UPSTREAM_UNAVAILABLE: 0x0208,
  SESSION_CONFLICT: 0x0209,
  SESSION_TIMEOUT: 0x020a,
  SESSION_CLOSED: 0x020b,
  CLIENT_BAD_REQUEST: 0x0300,
  CLIENT_UNAUTHORIZED: 0x0301,
  CLIENT_FORBIDDEN: 0x0303,
  CLIENT_TIMEOUT: 0x0308,
  CLIENT_OVERRUN: 0x030d,
  CLIENT_BAD_TYPE: 0x030f,
  CLIENT_TOO_MANY: 0x031d,
} as const;

const WEBSOCKET_CODES: Record<number, number> = {
  [GuacamoleStatus.SUCCESS]: 1000,
  [GuacamoleStatus.SERVER_BUSY]: 1008,
  [GuacamoleStatus.RESOURCE_NOT_FOUND]: 1002,
  [GuacamoleStatus.RESOURCE_CONFLICT]: 1008,
  [GuacamoleStatus.RESOURCE_CLOSED]: 1002,
  [GuacamoleStatus.SESSION_CONFLICT]: 1008,
  [GuacamoleStatus.SESSION_TIMEOUT]: 1002,
  [GuacamoleStatus.SESSION_CLOSED]: 1002,
  [GuacamoleStatus.CLIENT_BAD_REQUEST]: 1002,
  [GuacamoleStatus.CLIENT_UNAUTHORIZED]: 1008,
  [GuacamoleStatus.CLIENT_FORBIDDEN]: 1008,
  [GuacamoleStatus.CLIENT_TIMEOUT]: 1002,
  [GuacamoleStatus.CLIENT_OVERRUN]: 1009,
  [GuacamoleStatus.CLIENT_BAD_TYPE]: 1003,
  [GuacamoleStatus.CLIENT_TOO_MANY]: 1008,
};

/** The WebSocket close code for a status; 1011 for the server and upstream errors and for any unknown status. */
export function webSocketCodeOf(status: number): number {
  return WEBSOCKET_CODES[status] ?? 1011;
}

/** A close reason the web client understands: the status in decimal. */
export function statusReason(status: number): string {
  return String(status);
}
