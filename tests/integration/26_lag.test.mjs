// A reader that falls behind (README: Overload): a stream or journal read too far behind skips
// to the present past lag_max, and its clients get a `lagging` gap event; entries trimmed
// before they were read give a `truncated` gap event. The bridge is paused (SIGSTOP) while a
// backlog is written, so that it comes back behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, sseCat, waitFor } from './lib/harness.mjs';

const route = `
[route st]
path = /st/{name}
stream = st:{name}
[route ch]
path = /ch/{name}
channel = ch.{name}
journal = 1000
`;
// The two kinds of reading that can fall behind: a stream route's stream (the backend XADDs)
// and a journalled channel's journal (here written with sse_publish).
const kinds = {
  stream: { path: (k) => `/st/${k}`, write: (pub, k, v, trim = []) => pub.xadd(`st:${k}`, ...trim, '*', 'data', v) },
  journal: { path: (k) => `/ch/${k}`, write: (pub, k, v) => pub.call('FCALL', 'sse_publish', '1', `ch.${k}`, v) },
};
const gaps = (events) => events.filter((e) => e.event === 'gap').map((e) => JSON.parse(e.data).reason);
const ns = (events) => events.filter((e) => e.event !== 'gap').map((e) => Number(e.data));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One entry read (so that the reader has a cursor), then the bridge paused while `backlog`
// entries are written (with `xadd` extra arguments), `pauseMs` long.
async function pausedBacklog(t, bridge, pub, key, { backlog, pauseMs, trim = [], kind = kinds.stream }) {
  const cat = sseCat(t, `${bridge.url}${kind.path(key)}`, { timeout: 60 });
  await cat.waitOpen();
  await waitFor(async () => {
    await kind.write(pub, key, '0');
    return cat.events.length > 0;
  }, { what: 'the reader following the stream', interval: 200 });
  const seen = cat.events.length;
  bridge.child.kill('SIGSTOP');
  let stopped = true;
  t.after(() => { if (stopped) bridge.child.kill('SIGCONT'); });
  for (let i = 1; i <= backlog; i++) await kind.write(pub, key, String(i), trim);
  await sleep(pauseMs);
  bridge.child.kill('SIGCONT');
  stopped = false;
  return { cat, seen };
}

for (const [name, kind] of Object.entries(kinds)) {
test(`a reader past lag_max skips to the present: one lagging gap event, then live (${name})`, async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridge = await startBridge(t, { redis,
    config: `[bridge]\nlag_max = 1s\nreplay_batch = 10\n${route}` });
  const { cat } = await pausedBacklog(t, bridge, pub, 'skip', { backlog: 200, pauseMs: 1500, kind });
  await waitFor(() => gaps(cat.events).length > 0, { what: 'a gap event' });
  assert.deepEqual(gaps(cat.events), ['lagging']);
  // Live again: what is written now arrives.
  await waitFor(async () => {
    await kind.write(pub, 'skip', '1000');
    return ns(cat.events).includes(1000);
  }, { what: 'a live entry after the skip', interval: 200 });
  const got = ns(cat.events).filter((n) => n > 0 && n < 1000);
  assert.ok(got.length < 200, `the backlog was skipped (${got.length} of 200 delivered)`);
  const m = await bridge.metrics();
  assert.equal(m.lag_skips_total, 1);
  assert.ok(bridge.log.join('\n').includes('skipping to the present'));
  await cat.stop();
});
}

test('entries trimmed before they were read: a truncated gap event, then what is left', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridge = await startBridge(t, { redis,
    config: `[bridge]\nlag_max = 0\nreplay_batch = 10\n${route}` });
  const { cat } = await pausedBacklog(t, bridge, pub, 'trim',
    { backlog: 200, pauseMs: 200, trim: ['MAXLEN', '50'] });
  await waitFor(() => ns(cat.events).includes(200), { what: 'the last entry' });
  assert.deepEqual(gaps(cat.events), ['truncated']);
  // Redis answers the XREAD that was blocked when the bridge stopped with the first entry
  // written (it reads it on waking), then the next read finds 2-150 trimmed.
  const got = ns(cat.events).filter((n) => n > 0);
  assert.deepEqual(got, [...(got[0] === 1 ? [1] : []), ...[...Array(50).keys()].map((i) => 151 + i)],
    'the 50 entries the stream kept, in order');
  const m = await bridge.metrics();
  assert.equal(m.unread_trimmed_total, 1);
  assert.equal(m.lag_skips_total, 0);
  await cat.stop();
});

test('a reader that keeps up: no gap, no skip, read lag 0', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridge = await startBridge(t, { redis,
    config: `[bridge]\nlag_max = 1s\nreplay_batch = 10\n${route}` });
  const { cat } = await pausedBacklog(t, bridge, pub, 'fine', { backlog: 200, pauseMs: 100 });
  await waitFor(() => ns(cat.events).includes(200), { what: 'the backlog' });
  assert.deepEqual(gaps(cat.events), []);
  assert.deepEqual(ns(cat.events).filter((n) => n > 0), [...Array(200).keys()].map((i) => i + 1));
  const m = await bridge.metrics();
  assert.equal(m.lag_skips_total, 0);
  assert.equal(m.unread_trimmed_total, 0);
  // 0 once a read finds nothing more waiting (at the latest when its XREAD BLOCK of 5 s ends).
  await waitFor(async () => (await bridge.metrics()).read_lag_milliseconds === 0,
    { what: 'read_lag_milliseconds 0', timeout: 10000 });
  await cat.stop();
});
