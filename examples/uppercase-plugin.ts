// An example wsgate plugin: a route whose handler is a module of yours.
//
//   routes:
//     - path: /shout
//       handler: ./dist/examples/uppercase-plugin.js   # relative to the config file
//       prefix: "> "                                   # this plugin's own option
//
// What it does:
//   - refuses the handshake with HTTP 403 when the query has deny=1
//     (connect() runs before the 101, so a refusal is an HTTP status);
//   - adds the response header "X-Example: 1" to the 101;
//   - on open, greets the client with one text message sent in 3 fragments
//     (session.stream(): other messages wait until the stream has ended);
//   - answers every text message with prefix + the text upper-cased;
//   - closes with 1003 (unsupported data) on a binary message.
//
// The module's default export is a handler factory. It runs once, at
// startup: it reads and checks the route's options (an unknown or mistyped
// option stops startup, naming routes[i].<field> and its line), and returns
// the handler that serves every session of the route.
import { accept, refuse, type HandlerFactory } from 'wsgate';

interface UppercaseOptions {
  prefix?: string;
}

const createUppercase: HandlerFactory = (ctx) => {
  const { prefix = '' } = ctx.options<UppercaseOptions>({ properties: { prefix: { type: 'string' } } });

  return {
    connect(c) {
      // Never log c.url whole: the query may carry a token.
      if (c.url.searchParams.get('deny') === '1') return refuse(403, 'deny=1 asked for a refusal');
      c.setResponseHeader('X-Example', '1');
      // Speak the client's first subprotocol, if it offered any; state is not needed.
      return accept(null, { protocol: c.offeredProtocols[0] });
    },

    open(_state, session) {
      const greeting = session.stream(false); // one text message, in fragments
      greeting.write(`${prefix}HELLO`);
      greeting.write(', ');
      greeting.end('CLIENT');
    },

    message(_state, session, data, isBinary) {
      if (!session.isOpen) return; // closing: send() would throw SessionClosedError
      if (isBinary) {
        session.close(1003, 'text messages only');
        return;
      }
      // Backpressure: a client that does not read its replies stops being read.
      if (!session.send(prefix + data.toString('utf8').toUpperCase(), false)) {
        session.pauseReading();
        session.once('drain', () => session.resumeReading());
      }
    },
  };
};

export default createUppercase;
