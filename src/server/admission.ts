// The session limit (maxSessions). A slot is taken before the handler
// connects (so a refused client costs no backend dial) and given back when
// the session ends or never opens. In one process a counter decides; under
// --workers the primary process does (src/processes/), so the limit holds
// across every worker.

export interface Admission {
  /** Resolves true with a slot taken, false when the limit is reached. */
  admit(): boolean | Promise<boolean>;
  /** Gives back a slot taken by admit(); call exactly once per admitted session. */
  leave(): void;
}

/** No limit: every session is admitted and nothing is counted. */
export const UNLIMITED: Admission = { admit: () => true, leave: () => {} };

export class LocalAdmission implements Admission {
  #taken = 0;
  constructor(readonly max: number) {}

  admit(): boolean {
    if (this.#taken >= this.max) return false;
    this.#taken++;
    return true;
  }

  leave(): void {
    this.#taken--;
  }
}

export function localAdmission(maxSessions: number): Admission {
  return maxSessions > 0 ? new LocalAdmission(maxSessions) : UNLIMITED;
}
