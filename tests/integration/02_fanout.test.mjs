// Fan-out: 100 clients on one channel each receive every message, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, sseCat, waitSubscribed } from './lib/harness.mjs';

test('100 clients on one channel receive all 500 messages in order', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  const pub = redis.client();
  const N = 500;
  const cat = sseCat(t, `${bridge.url}/events/fanout`, { n: 100, count: N, timeout: 60 });
  await cat.waitOpen();
  await waitSubscribed(pub, 'fanout', 1);
  assert.equal((await bridge.metrics()).clients, 100);
  assert.equal(Number((await pub.pubsub('NUMSUB', 'fanout'))[1]), 1, 'one subscription for 100 clients');
  const pipeline = pub.pipeline();
  for (let i = 0; i < N; i++) pipeline.publish('fanout', JSON.stringify({ seq: i }));
  await pipeline.exec();
  const { code } = await cat.done();
  assert.equal(code, 0, 'every connection reached the count');
  for (let conn = 0; conn < 100; conn++) {
    const seqs = cat.eventsOf(conn).map((e) => JSON.parse(e.data).seq);
    assert.deepEqual(seqs, [...Array(N).keys()], `connection ${conn}`);
  }
  // One upstream subscription serves them all (the built-in route journals, so the channel
  // stays subscribed for journal_linger, 60 s, after the clients have gone).
  const [, upstream] = await pub.pubsub('NUMSUB', 'fanout');
  assert.equal(Number(upstream), 1);
  assert.equal((await bridge.stop()).code, 0);
});
