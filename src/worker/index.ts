// `import ... from 'wsgate/worker'`: sending to a session from worker threads.
// Main thread: WorkerPool (or openWorkerChannel for a thread of your own).
// Worker thread: serveTasks (with a pool) or connectSession (with a channel's port).
// Importing it starts no thread and has no side effect, so both sides load
// this one entry.
export { liveWorkerThreads, WorkerPool, workerPools } from './pool.js';
export type { WorkerPoolOptions, WorkerPoolStats } from './pool.js';
export { openWorkerChannel, WorkerFailure } from './bridge.js';
export type { ChannelOutcome, WorkerChannel, WorkerChannelOptions } from './bridge.js';
export { serveTasks } from './serve.js';
export type { WorkerTask } from './serve.js';
export { connectSession } from './connect.js';
export type { SendOptions, SessionEnd, WorkerPayload, WorkerSession, WorkerStream } from './connect.js';
export { SessionClosedError } from '../session/errors.js';
