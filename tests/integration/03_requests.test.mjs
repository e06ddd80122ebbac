// Routes, patterns, multi-topic connections, and every way a request can be refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, sseCat, waitSubscribed, waitFor, rawRequest } from './lib/harness.mjs';

const config = `
[bridge]
max_topics = 3
max_clients = 3
max_header_size = 2KiB
max_uri_size = 512

[route orders]
path = /events/orders/{customer}
channel = orders.{customer}
event = fixed:order

[route all-orders]
path = /events/all-orders
pattern = orders.*
event = channel:2

[route multi]
path = /multi/{tenant}
topic = {tenant}.news
topic = {tenant}.alerts.{level}
event = channel
`;

test('pattern route receives every matching channel', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const cat = sseCat(t, `${bridge.url}/events/all-orders`, { count: 3 });
  await cat.waitOpen();
  await waitFor(async () => Number(await pub.pubsub('NUMPAT')) === 1, { what: 'PSUBSCRIBE' });
  await pub.publish('orders.1', 'a');
  await pub.publish('other.1', 'ignored');
  await pub.publish('orders.2', 'b');
  await pub.publish('orders.3.x', 'c');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => [e.event, e.data]), [['1', 'a'], ['2', 'b'], ['3', 'c']]);
});

test('multi-topic connection: several channels on one stream, each checked', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const cat = sseCat(t, `${bridge.url}/multi/acme?topic=acme.news&topic=acme.alerts.high`, { count: 2 });
  await cat.waitOpen();
  await waitSubscribed(pub, 'acme.news', 1);
  await waitSubscribed(pub, 'acme.alerts.high', 1);
  await pub.publish('acme.alerts.low', 'not asked for');
  await pub.publish('acme.news', 'n1');
  await pub.publish('acme.alerts.high', 'h1');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => [e.event, e.data]),
    [['acme.news', 'n1'], ['acme.alerts.high', 'h1']]);
});

async function status(url, init) {
  const res = await fetch(url, init);
  return [res.status, (await res.text()).trim()];
}

test('bad requests get the right status and a one-line reason', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const u = bridge.url;
  const cases = [
    [`${u}/nowhere`, 404],
    [`${u}/events/orders/a*b`, 400],
    [`${u}/events/orders/a%3Fb`, 400],
    [`${u}/events/orders/%5Bx%5D`, 400],
    [`${u}/events/orders/a..b`, 400],
    [`${u}/events/orders/a%00b`, 400],
    [`${u}/multi/acme`, 400], // topic needed
    [`${u}/multi/acme?topic=other.news`, 400], // not the tenant's
    [`${u}/multi/acme?topic=acme.alerts.*`, 400], // glob smuggled in a free placeholder
    [`${u}/multi/acme?topic=acme.news&topic=acme.alerts.a&topic=acme.alerts.b&topic=acme.alerts.c`, 400],
    [`${u}/events/orders/1?topic=x`, 400], // route takes no topics
    [`${u}/events/orders/${'x'.repeat(600)}`, 414],
  ];
  for (const [url, want] of cases) {
    const [code, text] = await status(url);
    assert.equal(code, want, `${url.slice(0, 120)} -> ${code} ${text}`);
    assert.ok(text.length > 0 && !text.includes('\n'), `one-line reason for ${url.slice(0, 80)}`);
  }
  // Each refusal the bridge answers itself is counted once.
  assert.equal((await bridge.metrics()).requests_bad_total, cases.length);
  const [post] = await status(`${u}/events/orders/1`, { method: 'POST' });
  assert.equal(post, 405);
  const [del] = await status(`${u}/events/orders/1`, { method: 'DELETE' });
  assert.equal(del, 405);
  assert.equal((await bridge.metrics()).requests_bad_total, cases.length + 2);
  // evhttp answers oversized headers with 400 (it has no 431) and closes the connection.
  const [big] = await status(`${u}/events/orders/1`, { headers: { 'X-Big': 'y'.repeat(4000) } });
  assert.equal(big, 400);
  // A stream request carries no body: max_body_size (0 by default) refuses one with 413.
  const withBody = await rawRequest(bridge.port,
    'GET /events/orders/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789');
  assert.match(withBody, /^HTTP\/1\.1 413/);
  assert.ok((await bridge.metrics()).requests_bad_total >= cases.length);
});

test('max_clients: the next stream gets 503 and the others keep streaming', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const cat = sseCat(t, `${bridge.url}/events/orders/7`, { n: 3, count: 1 });
  await cat.waitOpen();
  const res = await fetch(`${bridge.url}/events/orders/8`);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '5');
  assert.equal(await res.text(), 'too many clients\n');
  // Health checks are answered while streams are at their limit.
  assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200);
  await waitSubscribed(pub, 'orders.7', 1);
  await pub.publish('orders.7', 'still here');
  assert.equal((await cat.done()).code, 0);
  assert.equal(cat.events.length, 3);
});

test('a malformed request line gets 400 and does not disturb streams', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  const pub = redis.client();
  const cat = sseCat(t, `${bridge.url}/events/orders/9`, { count: 1 });
  await cat.waitOpen();
  const reply = await rawRequest(bridge.port, 'GARBAGE\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.[01] 400/);
  // Dot segments that fetch would resolve away reach the bridge as they are here.
  const dots = await rawRequest(bridge.port, 'GET /events/orders/.. HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(dots, /^HTTP\/1\.1 400/);
  await waitSubscribed(pub, 'orders.9', 1);
  await pub.publish('orders.9', 'ok');
  assert.equal((await cat.done()).code, 0);
});

test('HTTP/1.0 with Connection: keep-alive still gets a stream head: no length, Connection: close', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  // The stream never ends by itself: read until the head and the retry line are in.
  const raw = await rawRequest(bridge.port,
    'GET /events/old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    { timeout: 15000, until: (d) => /\r\n\r\nretry: \d+\n\n/.test(d) });
  const [head, body] = raw.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.[01] 200 /);
  assert.match(head, /\r\nConnection: close/i);
  assert.doesNotMatch(head, /content-length|keep-alive/i);
  assert.match(body, /^retry: \d+\n\n/, 'the stream follows the head, unchunked');
});

// HTTP/1.1 (RFC 9112) conformance where evhttp is lenient: each row a raw request, the status
// and the one-line text/plain reason. None of them may open a stream. A null reason: evhttp
// refuses the request itself, before the bridge sees it, with its own HTML page (libevent 2.1
// has no hook for its error replies; README Known limits).
const conformance = [
  ['HTTP/1.1 without Host', 'GET /events/orders/1 HTTP/1.1\r\n\r\n', 400, 'HTTP/1.1 needs a Host header'],
  ['conflicting Content-Length', 'GET /events/orders/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n',
    400, 'conflicting Content-Length headers'],
  ['Transfer-Encoding: gzip on a GET', 'GET /events/orders/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n',
    501, 'unsupported transfer coding (only chunked)'],
  ['Transfer-Encoding with Content-Length', 'GET /events/orders/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n',
    400, null],
  ['NUL in a topic', 'GET /multi/acme?topic=acme.news%00 HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'NUL in the query string'],
  ['TRACE', 'TRACE /events/orders/1 HTTP/1.1\r\nHost: x\r\n\r\n', 405, 'an event stream is read with GET'],
  ['CONNECT', 'CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'malformed request URI'],
  ['a header name with a space', 'GET /events/orders/1 HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n', 400, 'malformed header name'],
  ['a lower-case method', 'get /events/orders/1 HTTP/1.1\r\nHost: x\r\n\r\n', 501, null],
  ['javascript: Origin matching Host', 'GET /events/orders/1 HTTP/1.1\r\nHost: x\r\nOrigin: javascript://x\r\n\r\n',
    403, 'origin not allowed'],
];

test('HTTP conformance: every row gets its status and its one-line reason', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis });
  for (const [what, request, status, reason] of conformance) {
    // (Connection: close, so that the reply ends the read)
    const reply = await rawRequest(bridge.port, request.replace('\r\n', '\r\nConnection: close\r\n'),
      { timeout: 2000 });
    const [head, body] = reply.split('\r\n\r\n');
    assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), `${what}: ${head}`);
    if (reason === null) continue;
    assert.match(head, /\r\nContent-Type: text\/plain; charset=utf-8/i, what);
    assert.equal(body, `${reason}\n`, what);
  }
  const m = await bridge.metrics();
  assert.equal(m.clients_total, 0, 'no stream was opened');
  // An http(s) Origin matching Host is still the bridge's own page.
  const own = await rawRequest(bridge.port,
    'GET /events/orders/1 HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\n\r\n', { timeout: 500 });
  assert.match(own, /^HTTP\/1\.1 200 /);
});
