// Echoes every message back with the same type: the simplest handler, and
// the one the tests use to exercise the session layer on its own.
import { accept, type Handler, type HandlerFactory } from './types.js';

export const createEcho: HandlerFactory = (ctx) => {
  ctx.options({ properties: {} });
  const handler: Handler<null> = {
    connect: (c) => accept(null, { protocol: c.offeredProtocols[0] }),
    message(_state, session, data, isBinary) {
      // Backpressure: stop reading while our replies are not being taken.
      if (!session.send(data, isBinary)) {
        session.pauseReading();
        session.once('drain', () => session.resumeReading());
      }
    },
  };
  return handler;
};
