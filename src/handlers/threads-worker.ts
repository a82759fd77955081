// The threads handler's producer on a worker thread (routes with
// `workers: true`): the same messages as the main-thread producer, sent
// through the worker API. Awaiting each send is the backpressure: when the
// client reads slowly, the credit runs out and this loop waits.
import { serveTasks } from '../worker/serve.js';

export interface ProducerTask {
  producer: number;
  count: number;
}

serveTasks<ProducerTask>(async (session, { producer, count }) => {
  for (let n = count; n >= 1; n--) await session.send(`producer:${producer} count:${n}`);
});
