// How much a loopback connection holds in kernel buffers when its reader does
// not read: a stalled client's stream only tests the gateway if it is longer
// than that, so the rest has to wait in the gateway (measured, not assumed:
// it depends on the kernel's buffer autotuning, ~3.9 MB on the bench host).
import net from 'node:net';

export async function loopbackBufferBytes(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const reader = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  reader.pause();
  reader.on('error', () => {});
  try {
    const writer = await new Promise<net.Socket>((r) => server.once('connection', r));
    writer.on('error', () => {});
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 256; i++) writer.write(chunk); // 16 MiB: far more than the buffers take
    // The kernel takes what it will within a few milliseconds; wait until it stops growing.
    let taken = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const now = writer.bytesWritten - writer.writableLength; // bytesWritten counts what is still queued
      if (now === taken) break;
      taken = now;
    }
    writer.destroy();
    return taken;
  } finally {
    reader.destroy();
    await new Promise((r) => server.close(r));
  }
}
