// Replay from the journal: Last-Event-ID (header or query) gets exactly what was missed, then
// live; the seam between replay and live has no gap and no duplicate, even while messages
// keep coming; malformed, unknown and trimmed ids behave as documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BRIDGE, tempDir, startRedis, startBridge, sseCat, waitSubscribed, startPublisher,
  seqsOf, waitFor, rawStream } from './lib/harness.mjs';

function cmpId(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : (am < bm ? -1 : 1);
}

function assertIncreasing(ids) {
  for (let i = 1; i < ids.length; i++) assert.ok(cmpId(ids[i - 1], ids[i]) < 0, `${ids[i - 1]} < ${ids[i]}`);
}

async function publishSeq(pub, channel, from, to) {
  for (let i = from; i <= to; i++) await pub.publish(channel, JSON.stringify({ seq: i }));
}

// A journal's entries, [{id, seq}] (a gap marker has seq null), once its newest entry is
// `lastSeq` (the bridge journals a message after Redis delivered it, so a PUBLISH's reply
// comes before the XADD).
async function journalOf(pub, key, lastSeq) {
  const read = async () => (await pub.xrange(key, '-', '+')).map(([id, fields]) => {
    const f = Object.fromEntries(fields.flatMap((v, k) => (k % 2 ? [] : [[v, fields[k + 1]]])));
    return { id, seq: 'p' in f ? JSON.parse(f.p).seq : null, gap: f.gap ?? null };
  });
  let entries = [];
  await waitFor(async () => (entries = await read()).at(-1)?.seq === lastSeq,
    { what: `seq ${lastSeq} journalled in ${key}` });
  return entries;
}

for (const [how, pass] of [
  ['the Last-Event-ID header', (id) => ({ headers: [`Last-Event-ID: ${id}`], query: '' })],
  ['the lastEventID query parameter', (id) => ({ headers: [], query: `?lastEventID=${id}` })],
  ['the last_event_id query parameter', (id) => ({ headers: [], query: `?last_event_id=${id}` })],
]) {
  test(`read 10, miss 20, come back with ${how}: exactly those 20, then live`, async (t) => {
    const redis = await startRedis(t);
    const bridge = await startBridge(t, { redis });
    const pub = redis.client();
    const first = sseCat(t, `${bridge.url}/events/orders`, { count: 10 });
    await first.waitOpen();
    await waitSubscribed(pub, 'orders', 1);
    await publishSeq(pub, 'orders', 1, 10);
    assert.equal((await first.done()).code, 0);
    assert.deepEqual(seqsOf(first.events), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const last = first.events[9].id;

    await publishSeq(pub, 'orders', 11, 30); // nobody connected: the journal keeps them
    const { headers, query } = pass(last);
    const second = sseCat(t, `${bridge.url}/events/orders${query}`, { count: 21, headers });
    await second.waitEvents(20);
    await publishSeq(pub, 'orders', 31, 31);
    assert.equal((await second.done()).code, 0);
    assert.deepEqual(seqsOf(second.events), [...Array(21).keys()].map((i) => i + 11));
    assertIncreasing([last, ...second.events.map((e) => e.id)]);
  });
}

test('the seam under continuous publishing: 25 reconnects, every message exactly once', async (t) => {
  const redis = await startRedis(t);
  // A journal longer than the test publishes: a slow (sanitized) bridge must not see the
  // clients' ids trimmed away, which would be a documented truncation, not a seam bug.
  const bridge = await startBridge(t, { redis, args: ['--journal', '1000000'] });
  const pub = redis.client();
  const warm = sseCat(t, `${bridge.url}/events/seam`);
  await warm.waitOpen();
  await waitSubscribed(pub, 'seam', 1);
  const publisher = startPublisher(redis.client(), { channel: 'seam' });
  let lastId = null;
  const all = [];
  for (let i = 0; i < 25; i++) {
    const count = 5 + ((i * 7) % 40);
    const cat = sseCat(t, `${bridge.url}/events/seam`, { count,
      headers: lastId ? [`Last-Event-ID: ${lastId}`] : [] });
    assert.equal((await cat.done()).code, 0, `iteration ${i}`);
    const events = cat.events.slice(0, count);
    all.push(...events.map((e) => ({ ...e, iteration: i })));
    lastId = events[events.length - 1].id;
  }
  await publisher.stop();
  await warm.stop();
  assert.deepEqual(all.filter((e) => e.event === 'gap'), [], 'no gap event');
  const seqs = seqsOf(all);
  const first = seqs[0];
  const breaks = seqs.flatMap((v, k) => (k > 0 && v !== seqs[k - 1] + 1
    ? [`${seqs[k - 1]} -> ${v} at event ${k}`] : []));
  assert.deepEqual(breaks, [], `contiguous: none missing, none repeated (iterations: ${
    all.map((e) => e.iteration).filter((v, k, a) => a.indexOf(v) === k).length})`);
  assert.deepEqual(seqs, seqs.map((_, k) => first + k));
  assertIncreasing(all.map((e) => e.id));
  assert.ok(seqs.length >= 25 * 5);
});

test('multi-topic connection: the composite id resumes every topic', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  const pub = redis.client();
  const url = `${bridge.url}/events?topic=a&topic=b`;
  const first = sseCat(t, url, { count: 2 });
  await first.waitOpen();
  await waitSubscribed(pub, 'a', 1);
  await waitSubscribed(pub, 'b', 1);
  await pub.publish('a', 'a1');
  await pub.publish('b', 'b1');
  assert.equal((await first.done()).code, 0);
  const last = first.events[1].id;
  assert.match(last, /^\d+-\d+,\d+-\d+$/, 'one position per topic, in request order');
  await pub.publish('b', 'b2');
  await pub.publish('a', 'a2');
  await pub.publish('a', 'a3');
  const second = sseCat(t, url, { count: 3, headers: [`Last-Event-ID: ${last}`] });
  assert.equal((await second.done()).code, 0);
  const got = second.events.map((e) => `${e.event}:${e.data}`);
  assert.deepEqual(got.filter((g) => g.startsWith('a:')), ['a:a2', 'a:a3']);
  assert.deepEqual(got.filter((g) => g.startsWith('b:')), ['b:b2']);
});

test('a new client learns its position before any event, so it misses nothing', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  const pub = redis.client();
  const raw = sseCat(t, `${bridge.url}/events/quiet`);
  await raw.waitOpen();
  await waitSubscribed(pub, 'quiet', 1);
  await pub.publish('quiet', 'one'); // makes the journal's end known
  await raw.waitEvents(1);
  await raw.stop();
  // A brand-new client is told the position with a bare "id:" line; when it comes back with
  // it, it gets what was published in between.
  const fresh = await rawStream(t, `${bridge.url}/events/quiet`);
  await waitFor(() => {
    if (fresh.ended) throw Object.assign(new Error(`the stream ended: ${fresh.text}`), { fatal: true });
    return /id: \d+-\d+\n\n/.test(fresh.text);
  }, { what: `a bare id line (have ${JSON.stringify(fresh.text)})` });
  fresh.close();
  // Before any event: the retry line, then the position, nothing else.
  assert.match(fresh.text, /^retry: \d+\n\nid: \d+-\d+\n\n$/);
  const position = /id: (\d+-\d+)\n\n/.exec(fresh.text)[1];
  assert.equal(position, raw.events[0].id);
  await pub.publish('quiet', 'two');
  const back = sseCat(t, `${bridge.url}/events/quiet`, { count: 1, headers: [`Last-Event-ID: ${position}`] });
  assert.equal((await back.done()).code, 0);
  assert.equal(back.events[0].data, 'two');
});

test('malformed, unknown and trimmed ids', async (t) => {
  // Small stream nodes so that MAXLEN ~ really trims in a small test.
  const redis = await startRedis(t, { args: ['--stream-node-max-entries', '4'] });
  const bridge = await startBridge(t, { redis, config: `
[route short]
path = /short/{name}
channel = short.{name}
journal = 8
` });
  const pub = redis.client();
  const first = sseCat(t, `${bridge.url}/short/x`, { count: 1 });
  await first.waitOpen();
  await waitSubscribed(pub, 'short.x', 1);
  await publishSeq(pub, 'short.x', 1, 1);
  assert.equal((await first.done()).code, 0);
  const oldId = first.events[0].id;
  await publishSeq(pub, 'short.x', 2, 60);
  // MAXLEN ~ 8 trims whole stream nodes (4 entries here): 8 to 11 entries are kept, the newest.
  const journal = await journalOf(pub, 'sse:journal:short.x', 60);
  assert.ok(Number(await pub.xlen('sse:journal:short.x')) < 30, 'the journal was trimmed');
  assert.ok(journal.length >= 8 && journal.length <= 8 + 4 - 1,
    `journal = 8 keeps 8 to 11 entries with 4-entry nodes, kept ${journal.length}`);
  assert.deepEqual(journal.map((e) => e.seq), journal.map((_, k) => 60 - journal.length + 1 + k),
    'the newest entries, none missing');

  // Trimmed past the client's id: a gap event, then what is left, up to the end.
  const trimmed = sseCat(t, `${bridge.url}/short/x`, { count: 2, headers: [`Last-Event-ID: ${oldId}`] });
  await trimmed.waitEvents(2);
  await trimmed.stop();
  assert.equal(trimmed.events[0].event, 'gap');
  assert.deepEqual(JSON.parse(trimmed.events[0].data), { topic: 'short.x', reason: 'truncated' });
  // Exactly the gap and every entry still kept, in order: the count is known, no time window.
  const rest = sseCat(t, `${bridge.url}/short/x`, { count: 1 + journal.length,
    headers: [`Last-Event-ID: ${oldId}`] });
  assert.equal((await rest.done()).code, 0);
  assert.deepEqual(rest.events.map((e) => e.event), ['gap', ...journal.map(() => 'message')]);
  const seqs = seqsOf(rest.events);
  assert.equal(seqs[seqs.length - 1], 60, 'replayed up to the newest');
  assert.deepEqual(seqs, seqs.map((_, k) => seqs[0] + k), 'what is left is contiguous');
  assert.deepEqual(seqs, journal.map((e) => e.seq), 'every entry kept, nothing else');
  assert.deepEqual(rest.events.slice(1).map((e) => e.id), journal.map((e) => e.id));

  // Malformed: a gap event saying so, then live from now on.
  const bad = sseCat(t, `${bridge.url}/short/x`, { count: 2, headers: ['Last-Event-ID: not-an-id'] });
  await bad.waitEvents(1);
  await publishSeq(pub, 'short.x', 61, 61);
  assert.equal((await bad.done()).code, 0);
  assert.deepEqual(JSON.parse(bad.events[0].data), { topic: 'short.x', reason: 'invalid-id' });
  assert.deepEqual(seqsOf(bad.events), [61]);

  // From the future (a journal that was lost): a gap event, then live.
  const future = sseCat(t, `${bridge.url}/short/x`, { count: 2,
    headers: ['Last-Event-ID: 99999999999999-0'] });
  await future.waitEvents(1);
  await publishSeq(pub, 'short.x', 62, 62);
  assert.equal((await future.done()).code, 0);
  assert.deepEqual(JSON.parse(future.events[0].data), { topic: 'short.x', reason: 'unknown-id' });
  assert.deepEqual(seqsOf(future.events), [62]);
});

test('journal_age: MINID trimming really drops the entries older than the age', async (t) => {
  // Small stream nodes: MINID ~ drops whole nodes, and only nodes all older than the age.
  const redis = await startRedis(t, { args: ['--stream-node-max-entries', '4'] });
  const bridge = await startBridge(t, { redis, config: `
[route aged]
path = /aged/{name}
channel = aged.{name}
journal_age = 1s
` });
  const pub = redis.client();
  const key = 'sse:journal:aged.x';
  const live = sseCat(t, `${bridge.url}/aged/x`); // keeps the channel journalled throughout
  await live.waitOpen();
  await waitSubscribed(pub, 'aged.x', 1);
  await publishSeq(pub, 'aged.x', 1, 8);
  let seq = 8;
  let old = await journalOf(pub, key, seq);
  // Old entries up to a node's end (the start marker counts): the new ones begin a node of
  // their own, so that nothing old shares a node with them and the trim can be exact.
  while (old.length % 4 !== 0) {
    seq++;
    await publishSeq(pub, 'aged.x', seq, seq);
    old = await journalOf(pub, key, seq);
  }
  assert.equal(old[0].gap, 'journal-started');
  assert.deepEqual(old.slice(1).map((e) => e.seq), [...Array(seq).keys()].map((i) => i + 1),
    'nothing trimmed within the age');
  // Past the age on Redis's clock (the one its ids come from).
  const lastOldMs = Number(old.at(-1).id.split('-')[0]);
  await waitFor(async () => {
    const [sec, usec] = await pub.time();
    return Number(sec) * 1000 + Number(usec) / 1000 > lastOldMs + 1000 + 50;
  }, { what: 'the age to pass on Redis\'s clock' });
  // One at a time, each journalled before the next: the bridge trims from the newest id Redis
  // has acknowledged (its clock), so writes sent in one burst all trim from the one before it.
  const newFirst = seq + 1;
  let kept = [];
  for (let i = newFirst; i <= newFirst + 7; i++) {
    await publishSeq(pub, 'aged.x', i, i);
    kept = await journalOf(pub, key, i);
  }
  assert.deepEqual(kept.map((e) => e.seq), [...Array(8).keys()].map((i) => i + newFirst),
    'exactly the entries younger than journal_age are left');
  // A client whose id was one of the dropped entries learns of it, then gets what is left.
  const back = sseCat(t, `${bridge.url}/aged/x`, { count: 9, headers: [`Last-Event-ID: ${old[1].id}`] });
  assert.equal((await back.done()).code, 0);
  assert.deepEqual(JSON.parse(back.events[0].data), { topic: 'aged.x', reason: 'truncated' });
  assert.deepEqual(seqsOf(back.events), kept.map((e) => e.seq));
});

test('a composite id with the wrong number of positions: invalid-id for each topic, then live', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  const pub = redis.client();
  const url = `${bridge.url}/events?topic=a&topic=b`;
  const first = sseCat(t, url, { count: 2 });
  await first.waitOpen();
  await waitSubscribed(pub, 'a', 1);
  await waitSubscribed(pub, 'b', 1);
  await pub.publish('a', 'a1');
  await pub.publish('b', 'b1');
  assert.equal((await first.done()).code, 0);
  const last = first.events[1].id;
  const [posA, posB] = last.split(',');
  for (const [what, id] of [['one position for two topics', posA],
    ['three positions for two topics', `${posA},${posB},${posB}`]]) {
    await pub.publish('a', `missed-${what}`); // after the id: a good id would replay it
    const cat = sseCat(t, url, { count: 4, headers: [`Last-Event-ID: ${id}`] });
    await cat.waitEvents(2);
    await pub.publish('a', `live-a ${what}`);
    await pub.publish('b', `live-b ${what}`);
    assert.equal((await cat.done()).code, 0, what);
    const gaps = cat.events.slice(0, 2).map((e) => [e.event, JSON.parse(e.data)]);
    assert.deepEqual(gaps.sort((x, y) => x[1].topic.localeCompare(y[1].topic)),
      [['gap', { topic: 'a', reason: 'invalid-id' }], ['gap', { topic: 'b', reason: 'invalid-id' }]], what);
    assert.deepEqual(cat.events.slice(2).map((e) => [e.event, e.data]),
      [['a', `live-a ${what}`], ['b', `live-b ${what}`]], `${what}: live from now, nothing replayed`);
  }
});

test('an id taken from the message cannot be combined with a journal', () => {
  const dir = tempDir();
  const file = join(dir, 'bad.ini');
  writeFileSync(file, '[route r]\npath = /r\nchannel = r\nid = json:id\njournal = 100\n');
  const r = spawnSync(BRIDGE, ['--config', file, '--check-config'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.ini:2: \[route r\] id = \.\.\. cannot be used with a journal/);
});

test('--journal 0: the built-in routes journal nothing and send no ids', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, args: ['--journal', '0'] });
  const pub = redis.client();
  const cat = sseCat(t, `${bridge.url}/events/plain`, { count: 2 });
  await cat.waitOpen();
  await waitSubscribed(pub, 'plain', 1);
  await pub.publish('plain', 'a');
  await pub.publish('plain', 'b');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => [e.id, e.data]), [['', 'a'], ['', 'b']]);
  assert.equal(Number(await pub.exists('sse:journal:plain')), 0);
});

test('a plain route and a journalled route on one channel: the journal starts with the second', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config: `
[route plain]
path = /plain/{c}
channel = {c}

[route kept]
path = /kept/{c}
channel = {c}
journal = 100
` });
  const pub = redis.client();
  const plain = sseCat(t, `${bridge.url}/plain/mixed`, { count: 2 });
  await plain.waitOpen();
  await waitSubscribed(pub, 'mixed', 1);
  const kept = sseCat(t, `${bridge.url}/kept/mixed`, { count: 1 });
  await kept.waitOpen();
  await waitFor(async () => (await bridge.metrics()).clients === 2, { what: 'two clients' });
  await pub.publish('mixed', 'one');
  await pub.publish('mixed', 'two');
  assert.equal((await plain.done()).code, 0);
  assert.equal((await kept.done()).code, 0);
  assert.deepEqual(plain.events.map((e) => [e.id, e.data]), [['', 'one'], ['', 'two']]);
  assert.match(kept.events[0].id, /^\d+-\d+$/);
  assert.equal(kept.events[0].data, 'one');
});

test('no journal key for a channel nobody publishes to; a returning client learns of a restart', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  const pub = redis.client();
  const idle = sseCat(t, `${bridge.url}/events/nobody`);
  await idle.waitOpen();
  await waitSubscribed(pub, 'nobody', 1);
  assert.equal(Number(await pub.exists('sse:journal:nobody')), 0, 'no key before a message');
  await idle.stop();

  const first = sseCat(t, `${bridge.url}/events/restart`, { count: 1 });
  await first.waitOpen();
  await waitSubscribed(pub, 'restart', 1);
  await pub.publish('restart', 'before');
  assert.equal((await first.done()).code, 0);
  assert.equal(first.events[0].data, 'before', 'a fresh client is not told of the journal start');
  const last = first.events[0].id;
  await bridge.stop();
  await pub.publish('restart', 'lost while the bridge was down');
  await bridge.start();
  const back = sseCat(t, `${bridge.url}/events/restart`, { count: 2, headers: [`Last-Event-ID: ${last}`] });
  await back.waitOpen();
  await waitSubscribed(pub, 'restart', 1);
  await pub.publish('restart', 'after');
  assert.equal((await back.done()).code, 0);
  assert.equal(back.events[0].event, 'gap');
  assert.deepEqual(JSON.parse(back.events[0].data), { topic: 'restart', reason: 'journal-started' });
  assert.equal(back.events[1].data, 'after');
});

test('an id from the future for a missing journal: a gap event, then live', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  const pub = redis.client();
  const cat = sseCat(t, `${bridge.url}/events/fresh`, { count: 3, headers: ['Last-Event-ID: 99999999999999-0'] });
  await cat.waitEvents(1);
  await waitSubscribed(pub, 'fresh', 1);
  await pub.publish('fresh', 'live1');
  await pub.publish('fresh', 'live2');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => e.data).slice(1), ['live1', 'live2']);
  // The gap comes first. No journal at all is a history that is gone (journal.c: "No such
  // stream: its history is gone"), which the bridge reports as truncated.
  assert.equal(cat.events[0].event, 'gap');
  assert.deepEqual(JSON.parse(cat.events[0].data), { topic: 'fresh', reason: 'truncated' });
  assert.deepEqual(cat.events.map((e) => e.event), ['gap', 'message', 'message']);
});

test('a replay larger than the client buffer is paced, not cut', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis,
    config: '[bridge]\nclient_buffer = 64KiB\nmax_message_size = 16KiB\njournal = 1000\n' });
  const pub = redis.client();
  const first = sseCat(t, `${bridge.url}/events/big`, { count: 1 });
  await first.waitOpen();
  await waitSubscribed(pub, 'big', 1);
  const payload = 'b'.repeat(10000);
  await pub.publish('big', `0 ${payload}`);
  assert.equal((await first.done()).code, 0);
  for (let i = 1; i < 100; i++) await pub.publish('big', `${i} ${payload}`);
  const back = sseCat(t, `${bridge.url}/events/big`, { count: 99, headers: [`Last-Event-ID: ${first.events[0].id}`] });
  assert.equal((await back.done()).code, 0, '99 events of 10 KB through a 64 KiB buffer');
  assert.deepEqual(back.events.map((e) => Number(e.data.split(' ')[0])), [...Array(99).keys()].map((i) => i + 1));
  assert.equal((await bridge.metrics()).clients_slow_cut_total, 0);
});

test('a reconnect storm: clients resuming from one id share page reads, each gets its own route\'s events', async (t) => {
  // 40 clients come back with the same Last-Event-ID, 20 on a route that passes the payload
  // and 20 on one that translates it (event and data from JSON). Redis is paused while they
  // connect, so every replay job waits for its position at once: the pages of one position
  // are then read once for up to 16 jobs (replay.c, PAGE_SHARERS), the frames built once per
  // route. Each client must still get exactly the 300 missed entries, in its route's shape.
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config: `[bridge]
replay_batch = 50
[route raw]
path = /raw/{room}
channel = room.{room}
journal = 5000
[route shaped]
path = /shaped/{room}
channel = room.{room}
journal = 5000
event = json:type
data = json:v
` });
  const pub = redis.client();
  const first = sseCat(t, `${bridge.url}/raw/storm`, { count: 1 });
  await first.waitOpen();
  await waitSubscribed(pub, 'room.storm', 1);
  const msg = (i) => JSON.stringify({ seq: i, type: `t${i % 3}`, v: `value ${i}` });
  await pub.publish('room.storm', msg(0));
  assert.equal((await first.done()).code, 0);
  const from = first.events[0].id;
  const N = 300;
  for (let i = 1; i <= N; i++) await pub.publish('room.storm', msg(i));
  await journalOf(pub, 'sse:journal:room.storm', N);
  const stats = async () => Number(/cmdstat_xrange:calls=(\d+)/.exec(await pub.info('commandstats'))?.[1] ?? 0);
  const before = await stats();

  redis.child.kill('SIGSTOP');
  let paused = true;
  t.after(() => { if (paused) redis.child.kill('SIGCONT'); });
  const headers = [`Last-Event-ID: ${from}`];
  const raw = sseCat(t, `${bridge.url}/raw/storm`, { n: 20, count: N, headers });
  const shaped = sseCat(t, `${bridge.url}/shaped/storm`, { n: 20, count: N, headers });
  await raw.waitOpen();
  await shaped.waitOpen();
  redis.child.kill('SIGCONT');
  paused = false;
  assert.equal((await raw.done()).code, 0, 'every raw client got its 300');
  assert.equal((await shaped.done()).code, 0, 'every shaped client got its 300');
  const ids = raw.eventsOf(0).map((e) => e.id);
  assertIncreasing(ids);
  for (let c = 0; c < 20; c++) {
    const r = raw.eventsOf(c);
    assert.deepEqual(r.map((e) => JSON.parse(e.data).seq), [...Array(N).keys()].map((i) => i + 1), `raw ${c}`);
    assert.deepEqual(r.map((e) => e.id), ids, `raw ${c}: the journal's ids`);
    const s = shaped.eventsOf(c);
    assert.deepEqual(s.map((e) => [e.event, e.data]),
      [...Array(N).keys()].map((i) => [`t${(i + 1) % 3}`, `value ${i + 1}`]), `shaped ${c}`);
    assert.deepEqual(s.map((e) => e.id), ids, `shaped ${c}: the journal's ids`);
  }
  // Unshared, 40 clients would read 7 pages each (6 of 50 and the short last): 280 reads.
  const reads = (await stats()) - before;
  assert.ok(reads <= 70, `${reads} XRANGE reads for 40 clients resuming from one id`);
});
