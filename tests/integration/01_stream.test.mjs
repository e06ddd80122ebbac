// One stream end to end: headers, retry, heartbeats, field translation and the SSE encoding
// rules (line breaks in data, forged fields, ids with NUL, UTF-8, large and non-JSON payloads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis, startBridge, sseCat, rawStream, waitSubscribed, waitFor } from './lib/harness.mjs';

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

test('heartbeat = 200ms: 8 to 12 comments in 2 s; heartbeat = 0 and retry = 0: neither is sent', async (t) => {
  const redis = await startRedis(t);
  // Both bridges run at once, so that the silent one is watched over the same window in which
  // the other one is seen sending.
  const beating = await startBridge(t, { config, redis });
  const silent = await startBridge(t, { redis,
    config: config.replace('retry = 1500ms\nheartbeat = 200ms\n', 'retry = 0\nheartbeat = 0\n') });
  assert.match(readFileSync(join(silent.dir, 'bridge.ini'), 'utf8'), /^retry = 0\nheartbeat = 0$/m);
  const pub = redis.client();
  const quiet = await rawStream(t, `${silent.url}/raw/quiet`);
  const quietSince = Date.now();
  const beats = await rawStream(t, `${beating.url}/raw/beats`);
  await waitSubscribed(pub, 'raw.beats', 1);
  await waitSubscribed(pub, 'raw.quiet', 1);
  // The window is marked in the stream itself by two messages published 2 s apart, and the
  // heartbeats between them are counted in the bytes: a pause of this process while reading
  // changes nothing (arrival times would). Nominally 10; the bounds allow for timer jitter.
  const callA = Date.now();
  await pub.publish('raw.beats', 'A');
  const replyA = Date.now();
  await waitFor(() => Date.now() - replyA >= 2000, { timeout: 5000, what: 'the end of the window' });
  const callB = Date.now();
  await pub.publish('raw.beats', 'B');
  const replyB = Date.now();
  await beats.waitFor('data: B\n\n');
  const between = beats.text.slice(beats.text.indexOf('data: A\n\n'), beats.text.indexOf('data: B\n\n'));
  const inWindow = between.split(': heartbeat\n\n').length - 1;
  const least = Math.floor((callB - replyA) / 200) - 2;
  const most = Math.ceil((replyB - callA) / 200) + 2;
  assert.ok(inWindow >= least && inWindow <= most,
    `${inWindow} heartbeats in ${callB - replyA}-${replyB - callA} ms at heartbeat = 200ms (want ${least}-${most})`);
  // The silent stream is open and read (an event arrives), and it never had a heartbeat or a
  // retry line: exactly the event, from its first byte.
  assert.ok(Date.now() - quietSince >= 1500, 'the silent stream was watched for 1.5 s at least');
  assert.equal(quiet.heartbeats.length, 0, 'heartbeat = 0: no heartbeat');
  await pub.publish('raw.quiet', 'hello');
  await quiet.waitFor('data: hello\n\n');
  assert.equal(quiet.text, 'event: quiet\ndata: hello\n\n', 'retry = 0: no retry line; no heartbeat');
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
