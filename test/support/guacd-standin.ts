// A stand-in for guacd (not packaged by Debian): speaks guacd's side of the
// handshake and draws a little, so the gateway's guacamole handler can be
// tested end to end without a real remote desktop.
//
//   select <protocol>  ->  args VERSION_1_5_0 <names of the protocol's parameters>
//   size/audio/video/image/timezone/name  ->  remembered
//   connect <version> <values>  ->  checked: one value per name, in args order
//   ready $<id>, then: size, rect + cfill, sync (a 1024x768 orange screen), and with
//   `square` a blue 100x100 square at (200, 100), sync
// Afterwards it records the client's key, mouse and sync instructions (events
// in-process; lines on stdout when run as a program), sends nop when idle,
// and can stream instructions in random chunks with multi-byte text.
//
// With `greet` it plays a server that has done the handshake already (as
// Guacamole's own Java server does, in front of guacd): to every TCP client
// it sends the tunnel UUID instruction `0.,36.<uuid>;` at once, then draws,
// without waiting for `select`. That is what the stock web client needs
// behind a plain tcp-proxy route with `framing: guacamole`.
//
//   node dist/test/support/guacd-standin.js --port 4822 [--host 127.0.0.1] [--stream-bytes N] [--serve connected]
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { ByteInstructionParser, drawingInstructions, instruction, prng } from './guacamole.js';

/** The parameters guacd asks for, per protocol (a subset of the real lists, in guacd's order). */
export const STANDIN_ARGS: Record<string, string[]> = {
  vnc: ['hostname', 'port', 'password', 'read-only', 'color-depth'],
  rdp: ['hostname', 'port', 'domain', 'username', 'password', 'width', 'height', 'dpi', 'security', 'ignore-cert'],
  ssh: ['hostname', 'port', 'username', 'password', 'private-key', 'font-size'],
};

export interface StandinOptions {
  /** The version guacd offers first in `args`; null for guacd before 1.1 (no version element). */
  version?: string | null;
  /** Instead of `args`, answer `select` with this error. */
  refuse?: { message: string; status: number };
  /** After `ready`, send `required` for these names and wait for the client's `argv` before drawing. */
  required?: string[];
  /** After drawing, stream about this many bytes of instructions in random chunks. */
  streamBytes?: number;
  /** After drawing, send these instructions (text) in random chunks. */
  afterDraw?: string;
  /** nop after this long without sending (guacd: 5 s). */
  nopMs?: number;
  /** After the first frame, draw a blue 100x100 square at (200, 100) and sync again. */
  square?: boolean;
  /** Play a server past the handshake: send the tunnel UUID instruction, then draw; no `select` expected. */
  greet?: boolean;
}

/** What the stand-in saw in one handshake. */
export interface StandinConnect {
  id: string;
  protocol: string;
  /** The version the client answered with, or null if it answered none. */
  version: string | null;
  /** Values by parameter name. */
  values: Record<string, string>;
  size: string[];
  audio: string[];
  video: string[];
  image: string[];
  timezone?: string;
  name?: string;
}

export interface Standin {
  port: number;
  /** 'greeted' (the UUID sent, with `greet`), 'connect' (StandinConnect), 'key', 'mouse', 'sync', 'argv' ({ name, value }), 'instruction' (elements), 'protocol-error' (message), 'closed'. */
  events: EventEmitter;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startGuacdStandin(opts: StandinOptions = {}, port = 0, host = '127.0.0.1'): Promise<Standin> {
  const events = new EventEmitter();
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    connections++;
    socket.on('close', () => {
      sockets.delete(socket);
      events.emit('closed');
    });
    socket.on('error', () => {});
    serve(socket, opts, events);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    events,
    get connections() {
      return connections;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serve(socket: net.Socket, opts: StandinOptions, events: EventEmitter): void {
  const parser = new ByteInstructionParser();
  const id = `$${randomUUID()}`;
  const version = opts.version === undefined ? 'VERSION_1_5_0' : opts.version;
  const info: Partial<StandinConnect> & { id: string } = { id };
  let phase: 'select' | 'handshake' | 'required' | 'running' = 'select';
  let names: string[] = [];
  let lastSent = Date.now();
  const argv = new Map<string, { name: string; value: string }>();
  const answered = new Set<string>();
  const send = (text: string) => {
    if (socket.destroyed) return;
    lastSent = Date.now();
    socket.write(text);
  };
  const protocolError = (message: string) => {
    events.emit('protocol-error', message);
    send(instruction('error', message, 0x0300));
    socket.end();
  };
  const nop = setInterval(() => {
    if (phase === 'running' && Date.now() - lastSent >= (opts.nopMs ?? 5000)) send(instruction('nop'));
  }, Math.min(opts.nopMs ?? 5000, 1000));
  socket.on('close', () => clearInterval(nop));

  const draw = async () => {
    send(instruction('size', 0, 1024, 768) + instruction('rect', 0, 0, 0, 1024, 768) + instruction('cfill', 14, 0, 255, 128, 0, 255) + instruction('sync', Date.now(), 0));
    // A blue square at (200, 100), 100x100, in a second frame: something to find at its place.
    if (opts.square) send(instruction('rect', 0, 200, 100, 100, 100) + instruction('cfill', 14, 0, 0, 0, 255, 255) + instruction('sync', Date.now(), 0));
    if (opts.afterDraw) await writeChunked(socket, Buffer.from(opts.afterDraw), 7, () => (lastSent = Date.now()));
    if (opts.streamBytes) await writeChunked(socket, streamedBytes(opts.streamBytes), opts.streamBytes, () => (lastSent = Date.now()));
  };

  if (opts.greet) {
    const uuid = randomUUID();
    send(instruction('', uuid));
    events.emit('greeted', uuid);
    phase = 'running';
    void draw();
  }

  socket.on('data', (chunk: Buffer) => {
    let instructions: string[][];
    try {
      instructions = parser.push(chunk);
    } catch (e) {
      return protocolError(`malformed instruction: ${(e as Error).message}`);
    }
    for (const [opcode, ...args] of instructions) {
      events.emit('instruction', [opcode, ...args]);
      if (phase === 'select') {
        if (opcode !== 'select' || args.length !== 1) return protocolError(`expected select, got ${opcode}`);
        if (opts.refuse) {
          send(instruction('error', opts.refuse.message, opts.refuse.status));
          socket.end();
          return;
        }
        const known = STANDIN_ARGS[args[0]!];
        if (!known) {
          // What guacd does with a protocol it has no plugin for: log and hang up.
          socket.end();
          return;
        }
        info.protocol = args[0]!;
        names = known;
        send(instruction('args', ...(version ? [version] : []), ...names));
        phase = 'handshake';
      } else if (phase === 'handshake') {
        if (opcode === 'size' || opcode === 'audio' || opcode === 'video' || opcode === 'image') info[opcode] = args;
        else if (opcode === 'timezone' || opcode === 'name') info[opcode] = args[0];
        else if (opcode === 'connect') {
          const expected = names.length + (version ? 1 : 0);
          if (args.length !== expected) return protocolError(`connect has ${args.length} values for ${expected} args`);
          info.version = version ? args[0]! : null;
          if (version && !/^VERSION_\d+_\d+_\d+$/.test(info.version!)) return protocolError(`connect without a version: ${info.version}`);
          const values = args.slice(version ? 1 : 0);
          info.values = Object.fromEntries(names.map((n, i) => [n, values[i]!]));
          if (!info.size) return protocolError('connect before size');
          events.emit('connect', info as StandinConnect);
          send(instruction('ready', id));
          if (opts.required?.length) {
            send(instruction('required', ...opts.required));
            phase = 'required';
          } else {
            phase = 'running';
            void draw();
          }
        } else return protocolError(`unexpected ${opcode} during the handshake`);
      } else if (opcode === 'argv' && args.length === 3) {
        argv.set(args[0]!, { name: args[2]!, value: '' });
      } else if (opcode === 'blob' && argv.has(args[0]!)) {
        argv.get(args[0]!)!.value += Buffer.from(args[1]!, 'base64').toString();
      } else if (opcode === 'end' && argv.has(args[0]!)) {
        const got = argv.get(args[0]!)!;
        argv.delete(args[0]!);
        events.emit('argv', got);
        answered.add(got.name);
        if (phase === 'required' && opts.required!.every((n) => answered.has(n))) {
          phase = 'running';
          void draw();
        }
      } else if (opcode === 'key' || opcode === 'mouse' || opcode === 'sync') {
        events.emit(opcode, args);
      } else if (opcode === 'disconnect') {
        socket.end();
      }
    }
  });
}

/** Writes `bytes` in random chunk sizes, cut anywhere (inside characters too). */
async function writeChunked(socket: net.Socket, bytes: Buffer, seed: number, onWrite: () => void): Promise<void> {
  const rng = prng(seed);
  for (let pos = 0; pos < bytes.length && !socket.destroyed; ) {
    const n = rng.pick([1, 3, rng.int(100) + 1, rng.int(5000) + 1, rng.int(64_000) + 1]);
    onWrite();
    if (!socket.write(bytes.subarray(pos, pos + n))) await new Promise((r) => socket.once('drain', r));
    pos += n;
    if (rng.int(4) === 0) await new Promise((r) => setImmediate(r));
  }
}

/** The instructions `streamBytes` sends, for a test to compare against. */
export function streamedBytes(total: number): Buffer {
  return Buffer.from(drawingInstructions(total & 0xffff, Math.max(1, Math.ceil(total / 2500))).join(''));
}

async function main(): Promise<void> {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const serve = arg('serve');
  if (serve !== undefined && serve !== 'connected') throw new Error(`--serve: only "connected" is known, not ${serve}`);
  const standin = await startGuacdStandin({ streamBytes: arg('stream-bytes') ? Number(arg('stream-bytes')) : undefined, greet: serve === 'connected', square: true }, Number(arg('port') ?? 4822), arg('host') ?? '127.0.0.1');
  const line = (what: string, value: unknown) => process.stdout.write(`${what} ${JSON.stringify(value)}\n`);
  for (const what of ['greeted', 'connect', 'key', 'mouse', 'argv', 'protocol-error']) standin.events.on(what, (v) => line(what, v));
  line('listening', standin.port);
  process.on('SIGTERM', () => void standin.close().then(() => process.exit(0)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
