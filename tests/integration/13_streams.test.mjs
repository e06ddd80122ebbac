// Stream routes (backends XADD, the bridge XREADs) and reconnection end to end: the npm
// eventsource client reconnecting by itself across stream ends and bridge restarts, and
// Redis killed with SIGKILL and restarted with its AOF: every entry exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { startRedis, startBridge, sseCat, waitFor, startPublisher, seqsOf } from './lib/harness.mjs';

const config = `
[bridge]
retry = 100ms
close_event = rotate

[route orders]
path = /orders/{customer}
stream = orders:{customer}
data = json:payload

[route feed]
path = /feed
stream = feed

[route ticks]
path = /ticks
channel = ticks
journal = 10000
event = json:type
`;

// The config with more [bridge] settings, in its one [bridge] section.
function withBridgeSettings(lines) {
  const out = config.replace('[bridge]\n', `[bridge]\n${lines}`);
  assert.notEqual(out, config, 'the settings went in');
  return out;
}

test('stream route: entries become events (event and data fields, JSON member), with ids', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config });
  const r = redis.client();
  await r.xadd('orders:7', '*', 'event', 'old', 'data', '{"payload":"before"}');
  const cat = sseCat(t, `${bridge.url}/orders/7`, { count: 3 });
  await cat.waitOpen();
  // The stream is read from its end at subscription: "before" is history, not news.
  await waitFor(async () => (await bridge.metrics()).topics === 1, { what: 'stream topic' });
  const ids = [];
  ids.push(await r.xadd('orders:7', '*', 'event', 'created', 'data', '{"payload":{"n":1}}'));
  ids.push(await r.xadd('orders:7', '*', 'event', 'paid', 'data', 'not json'));
  ids.push(await r.xadd('orders:7', '*', 'sku', 'A-1', 'qty', '2')); // no data: all fields
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => [e.event, e.id, e.data]), [
    ['created', ids[0], '{"n":1}'],
    ['paid', ids[1], 'not json'],
    ['message', ids[2], '{"sku":"A-1","qty":"2"}'],
  ]);
  // Replay from the first id: the two after it.
  const back = sseCat(t, `${bridge.url}/orders/7`, { count: 2, headers: [`Last-Event-ID: ${ids[0]}`] });
  assert.equal((await back.done()).code, 0);
  assert.deepEqual(back.events.map((e) => e.id), ids.slice(1));
});

test('npm eventsource: the stream ends every 50 messages, the client resumes, nothing lost', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config });
  const es = new EventSource(`${bridge.url}/ticks`);
  t.after(() => es.close());
  const seqs = [];
  let opens = 0;
  es.onopen = () => { opens++; };
  const onEvent = (e) => seqs.push(JSON.parse(e.data).seq);
  es.addEventListener('tick', onEvent);
  es.addEventListener('rotate', onEvent); // delivered, then the bridge ends the stream
  await waitFor(() => opens === 1, { what: 'open' });
  const pub = redis.client();
  await waitFor(async () => Number((await pub.pubsub('NUMSUB', 'ticks'))[1]) === 1, { what: 'subscribed' });
  const N = 600;
  for (let i = 0; i < N; i++) {
    await pub.publish('ticks', JSON.stringify({ type: i % 50 === 49 ? 'rotate' : 'tick', seq: i }));
    if (i % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => seqs.length >= N, { timeout: 30000, what: `${N} events (have ${seqs.length})` });
  assert.deepEqual(seqs, [...Array(N).keys()], 'every message exactly once, in order');
  assert.ok(opens >= 10, `reconnected ${opens - 1} times`);
});

test('npm eventsource: bridge restarted while a backend keeps writing, nothing lost', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config });
  const es = new EventSource(`${bridge.url}/feed`);
  t.after(() => es.close());
  const seqs = [];
  es.onmessage = (e) => seqs.push(JSON.parse(e.data).seq);
  let opens = 0;
  es.onopen = () => { opens++; };
  await waitFor(() => opens === 1, { what: 'open' });
  await waitFor(async () => (await bridge.metrics()).topics === 1, { what: 'stream topic' });
  const publisher = startPublisher(redis.client(), { stream: 'feed' });
  await waitFor(() => seqs.length > 100, { what: 'events before the restart' });
  assert.equal((await bridge.stop('SIGTERM')).code, 0);
  await bridge.start();
  await waitFor(() => opens >= 2, { timeout: 15000, what: 'eventsource reconnected' });
  await waitFor(() => seqs.length > publisher.seq - 10 && publisher.seq > 300, { what: 'events after' });
  const sent = await publisher.stop();
  await waitFor(() => seqs.length >= sent, { timeout: 15000, what: `${sent} events (have ${seqs.length})` });
  assert.deepEqual(seqs, [...Array(sent).keys()], 'every entry exactly once, in order');
});

test('Redis killed with SIGKILL and restarted with its AOF: no stream entry lost', async (t) => {
  const redis = await startRedis(t, { appendonly: true, args: ['--appendfsync', 'always'] });
  const bridge = await startBridge(t, { redis, healthy: true,
    config: withBridgeSettings('backoff_min = 50ms\nbackoff_max = 300ms\n') });
  const cat = sseCat(t, `${bridge.url}/feed`, { n: 5, timeout: 60 });
  await cat.waitOpen();
  await waitFor(async () => (await bridge.metrics()).topics === 1, { what: 'stream topic' });
  const writer = redis.client();
  const acked = [];
  for (let i = 0; i < 50; i++) acked.push(await writer.xadd('feed', '*', 'data', JSON.stringify({ seq: i })));
  await redis.stop('SIGKILL');
  await redis.start();
  for (let i = 50; i < 100; i++) acked.push(await writer.xadd('feed', '*', 'data', JSON.stringify({ seq: i })));
  await waitFor(() => cat.events.length >= 5 * 100, { timeout: 20000,
    what: `500 events (have ${cat.events.length})` });
  for (let conn = 0; conn < 5; conn++) {
    const events = cat.eventsOf(conn);
    assert.deepEqual(seqsOf(events), [...Array(100).keys()], `connection ${conn}`);
    assert.deepEqual(events.map((e) => e.id), acked);
  }
  assert.equal(cat.closed.length, 0, 'clients stayed connected');
});

test('a stream asked for while Redis is down: the bridge stays responsive and reads it later', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config: withBridgeSettings('backoff_min = 50ms\nbackoff_max = 200ms\n') });
  await redis.stop();
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 503, { what: 'down' });
  const cat = sseCat(t, `${bridge.url}/orders/9`, { count: 1 });
  await cat.waitOpen();
  for (let i = 0; i < 5; i++) assert.equal((await fetch(`${bridge.url}/healthz`)).status, 503, 'loop not stuck');
  await redis.start();
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 200, { what: 'up again' });
  const w = redis.client();
  await waitFor(async () => {
    await w.xadd('orders:9', '*', 'event', 'probe', 'data', '{"payload":"x"}');
    return cat.events.length >= 1;
  }, { timeout: 10000, interval: 200, what: 'the stream read after Redis came back' });
  assert.equal(cat.events[0].event, 'probe');
});

test('a key that is not a stream does not stop the other stream routes', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config });
  const w = redis.client();
  const good = sseCat(t, `${bridge.url}/orders/good`, { count: 2 });
  const bad = sseCat(t, `${bridge.url}/orders/bad`);
  await good.waitOpen();
  await bad.waitOpen();
  await waitFor(async () => (await bridge.metrics()).topics === 2, { what: 'two stream topics' });
  await w.set('orders:bad', 'a string, not a stream');
  await w.xadd('orders:good', '*', 'event', 'one', 'data', '{"payload":1}');
  await waitFor(() => good.events.length >= 1, { what: 'first event' });
  await w.xadd('orders:good', '*', 'event', 'two', 'data', '{"payload":2}');
  assert.equal((await good.done()).code, 0);
  assert.deepEqual(good.events.map((e) => e.event), ['one', 'two']);
  assert.ok(bridge.log.some((l) => /orders:bad is a string, not a stream/.test(l)));
});
