// The demo page in a real browser: Debian's Chromium, headless, driven by playwright-core.
// The page (examples/www, served by the bridge) holds one EventSource over a Redis channel, a
// Redis stream and an MQTT topic; the demo publisher (examples/publisher.sh) keeps publishing.
// A screenshot of the page is saved to build/artifacts/ (TEST_ARTIFACTS overrides).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { startRedis, startMosquitto, startBridge, startDemoPublisher, startBrowser,
  waitFor } from './lib/harness.mjs';

const artifacts = process.env.TEST_ARTIFACTS || 'build/artifacts';

async function demoStack(t) {
  const redis = await startRedis(t);
  const broker = await startMosquitto(t);
  // The demo's own configuration: the static page and /events/demo.
  const bridge = await startBridge(t, { redis,
    args: ['--config', 'examples/demo.ini', '--mqtt', broker.url] });
  startDemoPublisher(t, redis, broker);
  return { redis, broker, bridge };
}

const counts = (page) => page.evaluate(() => {
  const c = { pubsub: 0, stream: 0, mqtt: 0 };
  for (const e of window.demo.events) c[e.source]++;
  return c;
});

// Waits until the demo publisher has published `ticks` more ticks, counted by its XADDs to
// demo:stream (each tick publishes to demo.pubsub just before and to MQTT just after).
async function published(redis, ticks) {
  const r = redis.client();
  const start = Number(await r.xlen('demo:stream'));
  await waitFor(async () => Number(await r.xlen('demo:stream')) >= start + ticks,
    { timeout: 30000, what: `${ticks} more ticks of the publisher` });
  r.disconnect();
}

const seqs = (events, source) => events.filter((e) => e.source === source).map((e) => e.n);

function exactlyOnceInOrder(ns, what) {
  assert.ok(ns.length > 0, `${what}: no events`);
  for (let i = 1; i < ns.length; i++) {
    assert.equal(ns[i], ns[i - 1] + 1, `${what}: ${ns[i - 1]} then ${ns[i]} (all: ${ns.join(',')})`);
  }
}

test('the demo page shows live events from Redis pub/sub, a Redis stream and MQTT', async (t) => {
  const { bridge } = await demoStack(t);
  const browser = await startBrowser(t);
  const page = await browser.newPage();
  await page.goto(`${bridge.url}/`);
  await waitFor(async () => {
    const c = await counts(page);
    return c.pubsub >= 3 && c.stream >= 3 && c.mqtt >= 3;
  }, { timeout: 20000, what: 'three events of each source on the page' });
  assert.equal(await page.textContent('#state'), 'OPEN');
  assert.match(await page.textContent('#last-id'), /^\d+-\d+(,\d+-\d+){3}$/);
  assert.ok(Number(await page.textContent('#count-mqtt')) >= 3);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'demo-page.png'), fullPage: true });
});

test('the bridge killed and restarted: the page reconnects by itself and misses nothing it can have', async (t) => {
  const { redis, bridge } = await demoStack(t);
  const browser = await startBrowser(t);
  const page = await browser.newPage();
  await page.goto(`${bridge.url}/`);
  await waitFor(async () => (await counts(page)).mqtt >= 3, { timeout: 20000, what: 'events before the kill' });
  // Right after an MQTT event (journalled before it was delivered), with the next one ~0.5 s
  // away: nothing acknowledged by the bridge is in flight when it dies.
  const before = (await counts(page)).mqtt;
  await waitFor(async () => (await counts(page)).mqtt > before, { timeout: 5000, what: 'a fresh MQTT event' });
  await bridge.stop('SIGKILL');
  await waitFor(async () => (await page.textContent('#state')) !== 'OPEN', { what: 'the page to notice' });
  const atKill = await counts(page);
  // The publisher keeps publishing meanwhile: let it publish 3 ticks (stream entries; each tick
  // also publishes to MQTT after its XADD), so that there is something to replay.
  await published(redis, 3);
  await bridge.start();
  await waitFor(async () => page.evaluate(() => window.demo.reconnects >= 1 && window.demo.state === 'OPEN'),
    { timeout: 20000, what: 'the page to reconnect' });
  await waitFor(async () => {
    const c = await counts(page);
    return c.stream >= atKill.stream + 6 && c.mqtt >= atKill.mqtt + 6;
  }, { timeout: 20000, what: 'events after the restart' });
  const demo = await page.evaluate(() => window.demo);
  // Streams and the MQTT session (QoS 1, persistent) keep what was published while the bridge
  // was down: every one of those arrives exactly once, in order.
  exactlyOnceInOrder(seqs(demo.events, 'stream'), 'stream');
  exactlyOnceInOrder(seqs(demo.events, 'mqtt'), 'mqtt');
  assert.ok(demo.replayed > 0, 'events replayed after the reconnect');
  // Redis pub/sub keeps nothing: what was published during the outage is gone, and the page
  // is told (a gap event); what it did get is in order and never twice.
  const pubsub = seqs(demo.events, 'pubsub');
  for (let i = 1; i < pubsub.length; i++) assert.ok(pubsub[i] > pubsub[i - 1], `pubsub order: ${pubsub.join(',')}`);
  assert.ok(demo.notices.some((n) => n.startsWith('history incomplete')), demo.notices.join('\n'));
});

test('the close button: the publisher sends the close event and the page closes its EventSource', async (t) => {
  const { redis, bridge } = await demoStack(t);
  const browser = await startBrowser(t);
  const page = await browser.newPage();
  await page.goto(`${bridge.url}/`);
  await waitFor(async () => (await counts(page)).stream >= 1, { timeout: 20000, what: 'a first event' });
  await page.click('#close');
  await waitFor(async () => page.evaluate(() => window.demo.closed), { timeout: 10000, what: 'the close event' });
  assert.equal(await page.textContent('#state'), 'CLOSED');
  const n = (await page.evaluate(() => window.demo.events.length));
  // The publisher goes on (3 more ticks on every source): nothing more arrives.
  await published(redis, 3);
  assert.equal(await page.evaluate(() => window.demo.events.length), n);
  assert.equal(await page.evaluate(() => window.demo.source.readyState), 2);
});

test('CORS: a page on another origin may read the stream only if its origin is allowed', async (t) => {
  const redis = await startRedis(t);
  // The page's server listens first (on a port the kernel picks), so that its origin is known.
  let bridgeUrl = null;
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<!doctype html><script>
      window.got = []; window.failed = false;
      const es = new EventSource('${bridgeUrl}/events/news');
      es.onmessage = (e) => window.got.push(e.data);
      es.onerror = () => { if (es.readyState === 2) window.failed = true; };
    </script>`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const pagePort = server.address().port;
  const allowed = `http://127.0.0.1:${pagePort}`;
  const bridge = await startBridge(t, { redis,
    config: `[bridge]\ncors_origins = ${allowed}\nretry = 200ms\n` });
  bridgeUrl = bridge.url;
  // The page comes from 127.0.0.1:pagePort (allowed) or localhost:pagePort (another origin).
  const browser = await startBrowser(t);
  const pub = redis.client();

  const ok = await browser.newPage();
  await ok.goto(`${allowed}/`);
  await waitFor(async () => Number((await pub.pubsub('NUMSUB', 'news'))[1]) === 1, { what: 'the allowed page subscribed' });
  await pub.publish('news', 'hello');
  await waitFor(async () => (await ok.evaluate(() => window.got)).includes('hello'), { what: 'the event on the allowed page' });

  assert.equal((await bridge.metrics()).requests_bad_total, 0, 'the allowed page was served');
  const denied = await browser.newPage();
  const requests = [];
  const failed = [];
  denied.on('request', (r) => { if (r.url().startsWith(bridge.url)) requests.push(r.url()); });
  denied.on('requestfailed', (r) => { if (r.url().startsWith(bridge.url)) failed.push(r.url()); });
  await denied.goto(`http://localhost:${pagePort}/`);
  await waitFor(async () => denied.evaluate(() => window.failed), { what: 'the denied page to fail' });
  // The page made one request to the bridge, which failed (the browser hides the status of a
  // refused cross-origin answer), and the bridge refused exactly one request: the same request
  // with that Origin is a 403 (EventSource does not retry after a 403).
  assert.deepEqual(requests, [`${bridge.url}/events/news`]);
  await waitFor(() => failed.length === 1, { what: 'the failed request' });
  assert.equal((await bridge.metrics()).requests_bad_total, 1);
  const same = await fetch(`${bridge.url}/events/news`, { headers: { Origin: `http://localhost:${pagePort}` } });
  assert.equal(same.status, 403);
  assert.equal(await same.text(), 'origin not allowed\n');
  await pub.publish('news', 'again');
  await waitFor(async () => (await ok.evaluate(() => window.got)).includes('again'), { what: 'the second event' });
  assert.deepEqual(await denied.evaluate(() => window.got), []);
  assert.ok((await bridge.metrics()).requests_bad_total >= 1, 'the bridge answered 403');
  assert.equal((await bridge.metrics()).requests_bad_total, 2, 'the page\'s request and ours only');
  assert.deepEqual(requests, [`${bridge.url}/events/news`], 'the denied page never retried');
});
