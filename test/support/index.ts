// The shared test helpers, in one import. Each lives in the file named for it:
//   paths.ts     REPO_ROOT, BIN
//   gateway.ts   startGateway (in this process), sessionsDrained
//   cli.ts       runCli, spawnCli (the real bin/wsgate.js as a child process)
//   backend.ts   startBackend (TCP, loopback), drained
//   clients.ts   connect, handshakeStatus, closed, rawRequest
//   frames.ts    raw handshakes and frames: upgradeRequest, encodeFrame, FrameParser, rawWebSocket
//   data.ts      pseudoRandom, byteStream, seededSizes, rssBytes
//   hash.ts      sha256 (of a buffer), hashSink (of chunks as they arrive)
//   until.ts     until (poll a condition, bounded), untilSteady (until a value stops changing)
//   temp-dir.ts  tempDir (a fresh directory, removed when its test or file ends)
// Helpers for one area (cluster.ts, prometheus.ts, resolvers.ts, sql-stores.ts, vnc.ts, browser.ts,
// threads-client.ts, workers-*.ts) are imported from their own files.
// Everything binds to 127.0.0.1 and is closed by the test that opened it.
export * from './paths.js';
export * from './gateway.js';
export * from './cli.js';
export * from './backend.js';
export * from './clients.js';
export * from './frames.js';
export * from './data.js';
export * from './hash.js';
export * from './until.js';
export * from './temp-dir.js';
