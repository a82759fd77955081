/** Thrown (or rejected with) when a producer sends to a session that is closing or closed. */
export class SessionClosedError extends Error {
  override name = 'SessionClosedError';
  readonly code = 'ERR_SESSION_CLOSED';
  constructor(sessionId: string) {
    super(`session ${sessionId} is closed; nothing more can be sent`);
  }
}
