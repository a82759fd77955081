// The gateway's side of the guacd handshake, as Guacamole's own server does
// it: `select <protocol>` -> guacd's `args` (first element VERSION_x_y_z
// since guacd 1.1) -> the client's `size`, `audio`, `video`, `image`,
// `timezone` (protocol >= 1.1) and `name` (>= 1.5) -> `connect` with one
// value per name, in guacd's order -> guacd's `ready <connection id>`.
// An `error` at any step ends it with guacd's status. Pure: it reads and
// writes instructions, the relay moves them.
import { decodeInstructions, encodeInstruction } from './instruction.js';
import { GuacamoleStatus } from './status.js';

/** What the browser told about itself (Guacamole's GUAC_* connect parameters). */
export interface ClientInfo {
  width: number;
  height: number;
  dpi: number;
  audio: string[];
  video: string[];
  image: string[];
  timezone?: string;
  /** The user's name, shown to others who share the connection. */
  name?: string;
}

export interface ConnectionSettings {
  /** `vnc`, `rdp`, `ssh`, ... (or `$<connection id>` to join a running connection). */
  protocol: string;
  /** Parameter values by name; guacd asks for the ones it knows, in its order. */
  values: Readonly<Record<string, string>>;
}

export type HandshakeStep =
  | { kind: 'continue'; send?: string }
  | { kind: 'done'; connectionId: string; version: string | null; rest: Buffer | null }
  | { kind: 'failed'; status: number; reason: string; forward?: Buffer };

/** The newest protocol version this gateway speaks. */
export const LATEST_VERSION: readonly [number, number, number] = [1, 5, 0];
const VERSION = /^VERSION_(\d+)_(\d+)_(\d+)$/;

export class GuacdHandshake {
  readonly #settings: ConnectionSettings;
  readonly #client: ClientInfo;
  #phase: 'args' | 'ready' | 'over' = 'args';
  #version: string | null = null;

  constructor(settings: ConnectionSettings, client: ClientInfo) {
    this.#settings = settings;
    this.#client = client;
  }

  begin(): string {
    return encodeInstruction(['select', this.#settings.protocol]);
  }

  receive(message: Buffer): HandshakeStep {
    let instructions;
    try {
      instructions = decodeInstructions(message);
    } catch (e) {
      return this.#failed(GuacamoleStatus.UPSTREAM_ERROR, `guacd sent a malformed instruction: ${(e as Error).message}`);
    }
    let start = 0;
    let send = '';
    for (const { opcode, args, end } of instructions) {
      if (this.#phase === 'over') break;
      if (opcode === 'error') {
        // Passed on: the web client shows guacd's message and status.
        const status = /^\d+$/.test(args[1] ?? '') ? Number(args[1]) : GuacamoleStatus.SERVER_ERROR;
        return this.#failed(status, `guacd refused the connection: ${args[0] ?? ''} (status ${status})`, message.subarray(start, end));
      }
      if (opcode === 'nop') {
        start = end;
        continue;
      }
      if (this.#phase === 'args') {
        if (opcode !== 'args') return this.#failed(GuacamoleStatus.UPSTREAM_ERROR, `expected "args" from guacd, got "${opcode}"`);
        send += this.#answer(args);
        this.#phase = 'ready';
      } else {
        if (opcode !== 'ready') return this.#failed(GuacamoleStatus.UPSTREAM_ERROR, `expected "ready" from guacd, got "${opcode}"`);
        if (!args[0]) return this.#failed(GuacamoleStatus.UPSTREAM_ERROR, 'guacd sent "ready" without a connection id');
        this.#phase = 'over';
        return { kind: 'done', connectionId: args[0], version: this.#version, rest: end < message.length ? message.subarray(end) : null };
      }
      start = end;
    }
    return send ? { kind: 'continue', send } : { kind: 'continue' };
  }

  /** The client's instructions and `connect`, for guacd's `args`. */
  #answer(names: string[]): string {
    const values: string[] = [];
    let version: [number, number, number] = [1, 0, 0];
    const m = VERSION.exec(names[0] ?? '');
    let first = 0;
    if (m) {
      const offered: [number, number, number] = [Number(m[1]), Number(m[2]), Number(m[3])];
      version = compare(offered, LATEST_VERSION) > 0 ? [...LATEST_VERSION] : offered;
      this.#version = `VERSION_${version.join('_')}`;
      values.push(this.#version);
      first = 1;
    }
    for (let i = first; i < names.length; i++) values.push(this.#settings.values[names[i]!] ?? '');
    const c = this.#client;
    let out =
      encodeInstruction(['size', String(c.width), String(c.height), String(c.dpi)]) +
      encodeInstruction(['audio', ...c.audio]) +
      encodeInstruction(['video', ...c.video]) +
      encodeInstruction(['image', ...c.image]);
    if (c.timezone !== undefined && compare(version, [1, 1, 0]) >= 0) out += encodeInstruction(['timezone', c.timezone]);
    if (c.name !== undefined && compare(version, [1, 5, 0]) >= 0) out += encodeInstruction(['name', c.name]);
    return out + encodeInstruction(['connect', ...values]);
  }

  #failed(status: number, reason: string, forward?: Buffer): HandshakeStep {
    this.#phase = 'over';
    return forward ? { kind: 'failed', status, reason, forward } : { kind: 'failed', status, reason };
  }
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
