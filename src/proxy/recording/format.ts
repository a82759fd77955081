// What a recording format turns a session's bytes into. One instance per
// session (formats may keep state: a handshake half seen, an instruction cut
// between frames). Each call gets the ms since the session started and bytes
// the caller still owns: what it returns is its own (copied or encoded).

export interface RecordingFormat {
  /** Written first. */
  readonly header: Buffer | string;
  /** Written last, when the session ended normally. */
  readonly trailer?: Buffer | string;
  /** Bytes going to the client (backend -> browser); what to write, or null. */
  toClient(ms: number, bytes: Uint8Array): Buffer | string | null;
  /** Bytes coming from the client, called only when the recording keeps them or the format needs them. */
  fromClient(ms: number, bytes: Uint8Array): Buffer | string | null;
  /** Whether fromClient() must see the client's bytes even when inputs are left out (a handshake to follow). */
  readonly readsClient: boolean;
}

/** The format cannot go on (an RFB security type it cannot follow...): the recording is cut with this message. */
export class RecordingFormatError extends Error {}
