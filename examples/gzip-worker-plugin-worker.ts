// The worker half of examples/gzip-worker-plugin.ts: runs on the pool's
// threads. For each task it gzips the client's message and streams the
// result to the session as ONE binary message, a fragment per zlib chunk,
// as zlib produces them. Awaiting each write() is the backpressure: when the
// client reads slowly the credit runs out, write() waits, and so does zlib.
import { createGzip } from 'node:zlib';
import { serveTasks } from 'wsgate/worker';

export interface GzipTask {
  /** The client's message (copied to this thread). */
  data: Uint8Array;
  level: number;
}

serveTasks<GzipTask>(async (session, { data, level }) => {
  const gzip = createGzip({ level });
  gzip.end(data);
  const reply = session.stream(true); // other messages to this client wait until it ends
  for await (const chunk of gzip as AsyncIterable<Buffer>) {
    // Moved, not copied, when the chunk owns its whole buffer; copied otherwise.
    await reply.write(chunk, { transfer: true });
  }
  await reply.end();
  // Returning releases this producer. Throwing would close the session with
  // 1011 and log the error; if the client leaves, write() rejects with
  // SessionClosedError and that ends the task quietly.
});
