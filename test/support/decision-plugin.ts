// A test plugin whose connect() takes its decision from the query, after a
// delay: ?wait=<ms> before deciding, ?p=<subprotocol> to choose, ?tag=<x>
// for an X-Tag response header. Many such handshakes settle in another order
// than they began, so a test can check that each 101 carries its own choice.
import { setTimeout as sleep } from 'node:timers/promises';
import { accept, type HandlerFactory } from '../../src/handlers/types.js';

const createDecisionPlugin: HandlerFactory = (ctx) => {
  ctx.options({ properties: {} });
  return {
    async connect(c) {
      await sleep(Number(c.url.searchParams.get('wait') ?? 0));
      const tag = c.url.searchParams.get('tag');
      if (tag !== null) c.setResponseHeader('X-Tag', tag);
      return accept(null, { protocol: c.url.searchParams.get('p') ?? undefined });
    },
  };
};

export default createDecisionPlugin;
