// The package's entry point (`import ... from 'wsgate'`): what a plugin
// module needs, and nothing else. Everything under dist/src/ that is not
// exported here or from `wsgate/worker` is internal and may move.
export { accept, refuse } from './handlers/types.js';
export type { ConnectContext, ConnectResult, Handler, HandlerContext, HandlerFactory } from './handlers/types.js';
// Session is a class inside the gateway; a plugin only receives sessions, never builds one.
export type { CloseInfo, Payload, Session, SessionMeta, SessionState, WrittenCallback } from './session/session.js';
export type { MessageStream } from './session/message-stream.js';
export { SessionClosedError } from './session/errors.js';
export type { RouteConfig, SessionOptions } from './config/types.js';
export type { Logger } from './observability/logger.js';
