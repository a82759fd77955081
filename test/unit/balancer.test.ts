// Which worker the --workers primary hands a connection to (the fewest open
// connections, ties in turn), and what becomes of the primary's copy of a
// socket: closed once the worker has adopted it, when the send fails, or
// when the worker dies before adopting it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Balancer, leastLoaded, type Recipient } from '../../src/processes/balancer.js';
import type { PrimaryMessage } from '../../src/processes/messages.js';

test('leastLoaded: the fewest wins; on a tie the start is kept if it is among the fewest, else the first of them', () => {
  assert.equal(leastLoaded([3, 1, 2], 0), 1);
  assert.equal(leastLoaded([0, 0, 0], 2), 2);
  assert.equal(leastLoaded([2, 1, 1], 2), 2);
  assert.equal(leastLoaded([2, 1, 1], 0), 1);
  assert.equal(leastLoaded([5], 0), 0);
});

/** A worker that records what it was sent; `fail` makes the next sends report an error. */
function fakeWorker(id: number) {
  const sent: Array<{ message: PrimaryMessage; socket: net.Socket; callback: (err: Error | null) => void }> = [];
  const recipient: Recipient = {
    id,
    worker: {
      send: ((message: PrimaryMessage, socket: net.Socket, _options: unknown, callback: (err: Error | null) => void) => {
        sent.push({ message, socket, callback });
        return true;
      }) as Recipient['worker']['send'],
    },
  };
  return { recipient, sent };
}

const connectionId = (m: PrimaryMessage): number => (m.wsgate === 'connection' ? m.id : assert.fail(`not a connection: ${m.wsgate}`));

test('8 connections at once over 2 workers split 4/4; a closed one makes room on its worker', () => {
  const a = fakeWorker(1);
  const b = fakeWorker(2);
  const balancer = new Balancer(() => [a.recipient, b.recipient]);
  for (let i = 0; i < 8; i++) balancer.handOver(new net.Socket(), 0);
  assert.deepEqual([a.sent.length, b.sent.length], [4, 4]);
  balancer.closed(1);
  balancer.handOver(new net.Socket(), 1);
  assert.equal(a.sent.length, 5);
  assert.deepEqual(a.sent.at(-1)!.message, { wsgate: 'connection', id: connectionId(a.sent.at(-1)!.message), listener: 1 });
});

test('with no worker ready the connection is closed at once', () => {
  const balancer = new Balancer(() => []);
  const socket = new net.Socket();
  balancer.handOver(socket, 0);
  assert.equal(socket.destroyed, true);
});

test('a failed send closes the socket and is not counted against the worker', () => {
  const a = fakeWorker(1);
  const b = fakeWorker(2);
  const balancer = new Balancer(() => [a.recipient, b.recipient]);
  for (let i = 0; i < 4; i++) balancer.handOver(new net.Socket(), 0);
  assert.deepEqual([a.sent.length, b.sent.length], [2, 2]);
  for (const s of a.sent) s.callback(new Error('channel closed'));
  assert.ok(a.sent.every((s) => s.socket.destroyed));
  // Worker 1 holds nothing now, worker 2 holds two: the next two go to worker 1.
  balancer.handOver(new net.Socket(), 0);
  balancer.handOver(new net.Socket(), 0);
  assert.deepEqual([a.sent.length, b.sent.length], [4, 2]);
});

test("the primary's copy stays open until the worker adopts it; then it is closed", () => {
  const a = fakeWorker(1);
  const balancer = new Balancer(() => [a.recipient]);
  balancer.handOver(new net.Socket(), 0);
  const [sent] = a.sent;
  sent!.callback(null);
  assert.equal(sent!.socket.destroyed, false);
  balancer.adopted(1, connectionId(sent!.message));
  assert.equal(sent!.socket.destroyed, true);
});

test('a worker that dies closes the sockets it never adopted; its count starts again at 0', () => {
  const a = fakeWorker(1);
  const b = fakeWorker(2);
  const balancer = new Balancer(() => [a.recipient, b.recipient]);
  for (let i = 0; i < 4; i++) balancer.handOver(new net.Socket(), 0);
  const [adopted, pending] = a.sent;
  adopted!.callback(null);
  pending!.callback(null);
  balancer.adopted(1, connectionId(adopted!.message));
  balancer.retire(1);
  assert.equal(pending!.socket.destroyed, true);
  pending!.callback(new Error('late')); // a late send error for a socket retire() closed changes nothing
  // Worker 1 counts from 0 again, worker 2 holds two: the next two go to worker 1.
  balancer.handOver(new net.Socket(), 0);
  balancer.handOver(new net.Socket(), 0);
  assert.deepEqual([a.sent.length, b.sent.length], [4, 2]);
});
