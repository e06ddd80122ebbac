// Upstream subscriptions follow the clients: subscribe on the first, keep through a short
// linger, unsubscribe after the last; static routes stay subscribed with no client at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, sseCat, waitSubscribed, waitFor } from './lib/harness.mjs';

const config = `
[bridge]
linger = 300ms

[route dynamic]
path = /events/{channel}
channel = {channel}

[route ticker]
path = /ticker
channel = ticker
static = true
`;

test('subscribe on first client, unsubscribe after the last one leaves (after linger)', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const channels = async () => (await pub.pubsub('CHANNELS')).sort();
  assert.deepEqual(await channels(), ['ticker'], 'only the static route before any client');

  const a = sseCat(t, `${bridge.url}/events/room1`, { n: 2 });
  await a.waitOpen();
  await waitSubscribed(pub, 'room1', 1);
  const b = sseCat(t, `${bridge.url}/events/room1`);
  await b.waitOpen();
  await a.stop();
  await waitFor(async () => (await bridge.metrics()).clients === 1, { what: 'two clients gone' });
  // A probe channel opened and closed after them is dropped once its linger runs out; had the
  // bridge been going to drop room1 while b still reads it, it would have done so by then.
  const probe = sseCat(t, `${bridge.url}/events/probe`);
  await probe.waitOpen();
  await waitSubscribed(pub, 'probe', 1);
  await probe.stop();
  await waitFor(async () => !(await channels()).includes('probe'), { what: 'probe dropped' });
  assert.deepEqual(await channels(), ['room1', 'ticker'], 'one client left: still subscribed');
  await b.stop();
  await waitFor(async () => !(await channels()).includes('room1'),
    { timeout: 5000, what: 'UNSUBSCRIBE room1 after the last client left' });
  assert.deepEqual(await channels(), ['ticker']);
  assert.equal((await bridge.metrics()).clients, 0);
});

test('a client returning within the linger keeps the subscription and its messages', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config: config.replace('300ms', '5s'), redis });
  const pub = redis.client();
  const first = sseCat(t, `${bridge.url}/events/churn`);
  await first.waitOpen();
  await waitSubscribed(pub, 'churn', 1);
  await first.stop();
  await waitFor(async () => (await bridge.metrics()).clients === 0, { what: 'client gone' });
  assert.deepEqual(await pub.pubsub('CHANNELS', 'churn'), ['churn'], 'still subscribed in linger');
  const second = sseCat(t, `${bridge.url}/events/churn`, { count: 1 });
  await second.waitOpen();
  await pub.publish('churn', 'back');
  assert.equal((await second.done()).code, 0);
  assert.equal(second.events[0].data, 'back');
});

test('static route receives without re-subscribing', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  await waitSubscribed(pub, 'ticker', 1);
  const cat = sseCat(t, `${bridge.url}/ticker`, { count: 2 });
  await cat.waitOpen();
  await pub.publish('ticker', '1');
  await pub.publish('ticker', '2');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => e.data), ['1', '2']);
  await waitSubscribed(pub, 'ticker', 1);
});
