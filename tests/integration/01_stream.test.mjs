// One stream end to end: headers, retry, heartbeats, field translation and the SSE encoding
// rules (line breaks in data, forged fields, ids with NUL, UTF-8, large and non-JSON payloads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, sseCat, rawStream, waitSubscribed } from './lib/harness.mjs';

const config = `
[bridge]
retry = 1500ms
heartbeat = 200ms

[route orders]
path = /events/orders/{customer}
channel = orders.{customer}
event = json:type
id = json:id
data = json:payload

[route raw]
path = /raw/{name}
channel = raw.{name}
event = channel:2
`;

test('translation and encoding, read by our C client', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const messages = [
    [{ type: 'created', id: '1', payload: { a: 1 } }, { event: 'created', id: '1', data: '{"a":1}' }],
    [{ type: 'note', id: 2, payload: 'line1\nline2\r\nline3\rline4' },
      { event: 'note', id: '2', data: 'line1\nline2\nline3\nline4' }],
    [{ type: 'injected', id: '3', payload: 'x\n\nevent: admin\ndata: pwn' },
      { event: 'injected', id: '3', data: 'x\n\nevent: admin\ndata: pwn' }],
    [{ type: 'a\nb\r', id: '4\r\n5', payload: 'p' }, { event: 'ab', id: '45', data: 'p' }],
    // An id holding NUL is never sent: the client keeps the previous one.
    [{ type: 'nul', id: 'a\u0000b', payload: 'q' }, { event: 'nul', id: '45', data: 'q' }],
    [{ type: 'utf8', payload: 'héllo ✓ 🙂' }, { event: 'utf8', id: '45', data: 'héllo ✓ 🙂' }],
    ['plain text, not JSON', { event: 'message', id: '45', data: 'plain text, not JSON' }],
    ['', { event: 'message', id: '45', data: '' }],
    [{ type: 'big', payload: 'x'.repeat(100000) }, { event: 'big', id: '45', data: 'x'.repeat(100000) }],
  ];
  const cat = sseCat(t, `${bridge.url}/events/orders/42`, { count: messages.length });
  await cat.waitOpen();
  await waitSubscribed(pub, 'orders.42', 1);
  const before = await bridge.metrics();
  for (const [msg] of messages) {
    await pub.publish('orders.42', typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  const { code } = await cat.done();
  assert.equal(code, 0, 'ssecat received every event');

  const head = cat.heads[0];
  assert.equal(head.status, 200);
  assert.match(head.headers['content-type'], /^text\/event-stream/);
  assert.equal(head.headers['cache-control'], 'no-cache');
  assert.equal(head.headers['x-accel-buffering'], 'no');
  // Long data is compared by length and content but shown short when it differs.
  const brief = ({ event, id, data }) => ({ event, id,
    data: data.length > 80 ? `${data.length} bytes: ${data.slice(0, 20)}...` : data, same: data });
  const got = cat.events.map(brief);
  const want = messages.map(([, w]) => brief(w));
  assert.deepEqual(got.map(({ same, ...rest }) => rest), want.map(({ same, ...rest }) => rest));
  assert.ok(got.every((g, i) => g.same === want[i].same), 'data identical byte for byte');

  const after = await bridge.metrics();
  assert.equal(after.messages_non_json_total - before.messages_non_json_total, 2);
  assert.equal(after.messages_in_total - before.messages_in_total, messages.length);
});

test('wire format: data lines, forged fields stay data, heartbeats', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const raw = await rawStream(t, `${bridge.url}/raw/feed`);
  await raw.waitFor('retry: 1500\n\n');
  assert.ok(raw.text.startsWith('retry: 1500\n\n'), 'retry is sent first');
  await waitSubscribed(pub, 'raw.feed', 1);
  await pub.publish('raw.feed', 'x\n\nevent: admin\ndata: pwn\r\nid: 7\rz');
  await raw.waitFor('data: z\n\n');
  assert.ok(raw.text.includes(
    'event: feed\ndata: x\ndata: \ndata: event: admin\ndata: data: pwn\ndata: id: 7\ndata: z\n\n'),
  raw.text);
  assert.ok(!/^event: admin/m.test(raw.text), 'no forged event line');
  assert.ok(!/^id:/m.test(raw.text), 'no forged id line');
  await raw.waitFor(': heartbeat\n\n', { timeout: 3000 });
});

test('healthz and metrics', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const res = await fetch(`${bridge.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok', redis: 'up', clients: 0 });
  const m = await bridge.metrics();
  assert.equal(m.redis_up, 1);
  assert.equal(m.clients, 0);
  assert.equal((await bridge.stop()).code, 0);
});
