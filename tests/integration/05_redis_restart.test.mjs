// Redis goes away: clients stay connected, /healthz says so, the bridge reconnects with
// backoff, subscribes again, and the same streams carry new messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, sseCat, waitSubscribed, waitFor } from './lib/harness.mjs';

test('Redis killed and restarted while 20 clients stay connected', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, args: [], env: {} ,
    config: '[bridge]\nbackoff_min = 50ms\nbackoff_max = 500ms\n' });
  const pub = redis.client();
  // 4 messages, plus one gap event per topic when the subscriptions resume: messages
  // published while Redis was away are lost by pub/sub, and the journal says so.
  const cat = sseCat(t, `${bridge.url}/events?topic=alpha&topic=beta`, { n: 20, count: 6, timeout: 60 });
  await cat.waitOpen();
  await waitSubscribed(pub, 'alpha', 1);
  await waitSubscribed(pub, 'beta', 1);
  await pub.publish('alpha', 'before');
  await cat.waitEvents(20);

  await redis.stop('SIGKILL');
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 503,
    { what: '/healthz to report Redis down' });
  assert.equal(cat.closed.length, 0, 'no client was disconnected');
  assert.equal((await bridge.metrics()).clients, 20);

  await redis.start();
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 200,
    { what: 'reconnect', timeout: 10000 });
  await waitSubscribed(pub, 'alpha', 1);
  await waitSubscribed(pub, 'beta', 1);
  await pub.publish('alpha', 'after-1');
  await pub.publish('beta', 'after-2');
  await pub.publish('alpha', 'after-3');
  assert.equal((await cat.done()).code, 0);
  for (let conn = 0; conn < 20; conn++) {
    const events = cat.eventsOf(conn);
    assert.deepEqual(events.filter((e) => e.event !== 'gap').map((e) => [e.event, e.data]),
      [['alpha', 'before'], ['alpha', 'after-1'], ['beta', 'after-2'], ['alpha', 'after-3']]);
    assert.deepEqual(events.filter((e) => e.event === 'gap').map((e) => JSON.parse(e.data)).sort(
      (a, b) => a.topic.localeCompare(b.topic)),
    [{ topic: 'alpha', reason: 'journal-resumed' }, { topic: 'beta', reason: 'journal-resumed' }]);
  }
  const m = await bridge.metrics();
  assert.equal(m.redis_reconnects_total, 1);
  const log = bridge.log.join('\n');
  assert.equal(log.match(/redis pubsub: lost connection/g)?.length, 1, 'the outage is logged once');
  assert.equal((await bridge.stop()).code, 0);
});

test('the bridge starts before Redis and connects when it appears', async (t) => {
  const redis = await startRedis(t);
  await redis.stop();
  const bridge = await startBridge(t, { redis, healthy: false,
    config: '[bridge]\nbackoff_min = 50ms\nbackoff_max = 300ms\n' });
  assert.equal((await fetch(`${bridge.url}/healthz`)).status, 503);
  const cat = sseCat(t, `${bridge.url}/events/early`, { count: 1 });
  await cat.waitOpen();
  await redis.start();
  const pub = redis.client();
  await waitSubscribed(pub, 'early', 1, { timeout: 10000 });
  await pub.publish('early', 'hello');
  assert.equal((await cat.done()).code, 0);
});
