// Conformance with a WHATWG EventSource implementation (npm `eventsource`): event types, ids,
// multi-line data, retry, and its own reconnection after the server ends a stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { startRedis, startBridge, waitSubscribed, waitFor } from './lib/harness.mjs';

const config = `
[bridge]
retry = 100ms
close_event = bye

[route feed]
path = /feed/{name}
channel = feed.{name}
event = json:type
id = json:id
data = json:data
`;

test('npm eventsource reads types, ids and data, and reconnects by itself', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const es = new EventSource(`${bridge.url}/feed/main`);
  t.after(() => es.close());
  const got = [];
  let opens = 0;
  es.addEventListener('open', () => { opens++; });
  es.onmessage = (e) => got.push(['message', e.lastEventId, e.data]);
  for (const type of ['update', 'bye']) {
    es.addEventListener(type, (e) => got.push([type, e.lastEventId, e.data]));
  }
  await waitFor(() => opens === 1, { what: 'open' });
  await waitSubscribed(pub, 'feed.main', 1);
  await pub.publish('feed.main', JSON.stringify({ type: 'update', id: 'u1', data: 'a\nb\r\nc' }));
  await pub.publish('feed.main', JSON.stringify({ id: 'm1', data: { n: 1 } }));
  await pub.publish('feed.main', 'not json');
  // The close event ends the stream; EventSource (which has no close handler here) comes
  // back after `retry` and keeps receiving.
  await pub.publish('feed.main', JSON.stringify({ type: 'bye', id: 'b1', data: '' }));
  await waitFor(() => opens === 2, { what: 'reconnect after the stream ended' });
  await waitSubscribed(pub, 'feed.main', 1);
  await pub.publish('feed.main', JSON.stringify({ type: 'update', id: 'u2', data: 'after' }));
  await waitFor(() => got.length === 5, { what: `5 events (have ${JSON.stringify(got)})` });
  assert.deepEqual(got, [
    ['update', 'u1', 'a\nb\nc'],
    ['message', 'm1', '{"n":1}'],
    // npm eventsource gives an id-less event an empty lastEventId (browsers give the last
    // one, 'm1'); either way it reconnects with Last-Event-ID: m1.
    ['message', '', 'not json'],
    ['bye', 'b1', ''],
    ['update', 'u2', 'after'],
  ]);
  assert.equal(es.readyState, EventSource.OPEN);
});
