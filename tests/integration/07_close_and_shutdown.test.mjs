// The close event: a message that translates to it ends those clients' streams after delivery;
// SIGTERM sends it to everyone, flushes, and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, sseCat, waitSubscribed } from './lib/harness.mjs';

const config = `
[bridge]
close_event = done

[route jobs]
path = /jobs/{id}
channel = job.{id}
event = json:type
data = json:data
`;

test('a message translated to the close event ends exactly those streams', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const job1 = sseCat(t, `${bridge.url}/jobs/1`, { n: 2 });
  const job2 = sseCat(t, `${bridge.url}/jobs/2`, { count: 2 });
  await job1.waitOpen();
  await job2.waitOpen();
  await waitSubscribed(pub, 'job.1', 1);
  await waitSubscribed(pub, 'job.2', 1);
  await pub.publish('job.1', JSON.stringify({ type: 'progress', data: 50 }));
  await pub.publish('job.1', JSON.stringify({ type: 'done', data: { ok: true } }));
  await pub.publish('job.2', JSON.stringify({ type: 'progress', data: 10 }));
  const { code } = await job1.done(); // both streams ended by the server
  assert.equal(code, 0);
  for (const conn of [0, 1]) {
    assert.deepEqual(job1.eventsOf(conn).map((e) => [e.event, e.data]),
      [['progress', '50'], ['done', '{"ok":true}']]);
    assert.ok(!job1.closed.find((c) => c.conn === conn).error, 'clean end of stream');
  }
  await pub.publish('job.2', JSON.stringify({ type: 'progress', data: 20 }));
  assert.equal((await job2.done()).code, 0, 'the other job kept streaming');
  assert.equal((await bridge.metrics()).clients, 0);
});

test('SIGTERM: every client gets the close event, the bridge exits 0', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const cat = sseCat(t, `${bridge.url}/jobs/9`, { n: 5 });
  await cat.waitOpen();
  const { code, signal } = await bridge.stop('SIGTERM');
  assert.equal(signal, null);
  assert.equal(code, 0);
  assert.equal((await cat.done()).code, 0, 'every stream was ended cleanly by the server');
  assert.equal(cat.events.length, 5);
  for (const e of cat.events) {
    assert.equal(e.event, 'done');
    assert.deepEqual(JSON.parse(e.data), { reason: 'shutdown' });
  }
  assert.ok(cat.closed.every((c) => !c.error), JSON.stringify(cat.closed));
});
