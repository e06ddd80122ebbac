// Several bridges on one Redis behave as one (README: Running several bridges): each message
// journalled once, whether published with plain PUBLISH or with FCALL sse_publish; the same ids
// on every bridge; a client hopping between bridges with Last-Event-ID gets no gap and no
// duplicate; the writer SIGKILLed: another takes its lease within journal_lease and the clients
// get one gap event for the window (none when only sse_publish published: nothing was lost); a
// writer paused past its lease writes nothing when resumed (fencing); a journalled MQTT route
// read by two bridges is journalled once, through one persistent session that moves with the
// lease (a writer SIGKILLed loses nothing the broker received meanwhile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, startMosquitto, sseCat, waitFor, waitSubscribed } from
  './lib/harness.mjs';

const LEASE_MS = 2000;
const config = `
[bridge]
retry = 100ms
journal_lease = ${LEASE_MS}ms
backoff_min = 50ms
backoff_max = 300ms
redis_probe_timeout = 10s
journal = 100000
`;
// (A long probe timeout: on a loaded CI machine a starved probe would reset every connection,
// and what is published meanwhile is lost, with gap events; not what these tests are about. A
// long journal: a slow run publishes more than the default 1,000 before the checks read it.)

function cmpId(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : (am < bm ? -1 : 1);
}

// A journal's entries: [{id, seq, via, gap}].
async function journal(pub, key) {
  return (await pub.xrange(key, '-', '+')).map(([id, fields]) => {
    const f = Object.fromEntries(fields.flatMap((v, k) => (k % 2 ? [] : [[v, fields[k + 1]]])));
    const p = 'p' in f ? JSON.parse(f.p) : {};
    return { id, seq: p.seq ?? null, via: p.via ?? null, gap: f.gap ?? null };
  });
}

// Publishes {seq, via} on channel, alternating plain PUBLISH and FCALL sse_publish, until
// stopped; `sent` keeps what each way sent.
function publisher(pub, channel, { every = 5, only = null } = {}) {
  const p = { seq: 0, running: true, sent: { publish: [], fcall: [] } };
  p.done = (async () => {
    while (p.running) {
      const seq = p.seq++;
      const via = only ?? (seq % 2 ? 'fcall' : 'publish');
      const body = JSON.stringify({ seq, via });
      if (via === 'publish') await pub.publish(channel, body);
      else await pub.call('FCALL', 'sse_publish', '1', channel, body);
      p.sent[via].push(seq);
      await new Promise((r) => setTimeout(r, every));
    }
  })();
  p.stop = async () => { p.running = false; await p.done; };
  return p;
}

const dataEvents = (events) => events.filter((e) => e.event !== 'gap');
const seqs = (events) => dataEvents(events).map((e) => JSON.parse(e.data).seq);

async function threeBridges(t, redis, extra = '') {
  const bridges = [];
  for (let i = 0; i < 3; i++) bridges.push(await startBridge(t, { redis, config: config + extra }));
  return bridges;
}

// Which bridge writes the journal of `channel` now: the port in its lease's token.
async function writerOf(pub, bridges, channel) {
  const token = await pub.get(`sse:journal:${channel}:lease`);
  const port = token && Number(/:(\d+)\/\d+$/.exec(token)?.[1]);
  return bridges.find((b) => b.port === port) ?? null;
}

test('three bridges, plain PUBLISH and sse_publish: one entry per message, the same ids everywhere', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridges = await threeBridges(t, redis);
  const N = 100;
  const cats = bridges.map((b) => sseCat(t, `${b.url}/events/multi`, { n: 3, count: N, timeout: 60 }));
  for (const c of cats) await c.waitOpen();
  await waitSubscribed(pub, 'multi', 3);
  await waitFor(async () => (await writerOf(pub, bridges, 'multi')) !== null,
    { what: 'a writer to take the lease' });
  for (let seq = 0; seq < N; seq++) {
    const body = JSON.stringify({ seq, via: seq % 2 ? 'fcall' : 'publish' });
    if (seq % 2) await pub.call('FCALL', 'sse_publish', '1', 'multi', body);
    else await pub.publish('multi', body);
  }
  for (const c of cats) assert.equal((await c.done()).code, 0);
  const entries = await journal(pub, 'sse:journal:multi');
  const messages = entries.filter((e) => e.gap === null);
  // Each once. (Their order is the journal's: a plain PUBLISH is journalled by the writer after
  // Redis delivered it, so the sse_publish that followed it may come first.)
  assert.deepEqual(messages.map((e) => e.seq).sort((a, b) => a - b), [...Array(N).keys()],
    'each message journalled once');
  assert.deepEqual(entries.filter((e) => e.gap !== null).map((e) => e.gap), ['journal-started']);
  const want = messages.map((e) => [e.id, e.seq]);
  for (const c of cats) {
    for (let conn = 0; conn < 3; conn++)
      assert.deepEqual(dataEvents(c.eventsOf(conn)).map((e) => [e.id, JSON.parse(e.data).seq]), want);
  }
  // Each message reached the bridges once: the two that do not write dropped their copy.
  const ins = await Promise.all(bridges.map(async (b) => (await b.metrics()).messages_in_total));
  assert.deepEqual(ins, [N / 2, N / 2, N / 2], 'every bridge heard the plain PUBLISHes');
  for (const b of bridges) assert.equal((await b.stop()).code, 0);
  assert.equal(await pub.exists('sse:journal:multi:lease'), 0, 'the writer released its lease');
});

test('a client hopping between three bridges 20 times under publishing: no gap, no duplicate', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridges = await threeBridges(t, redis);
  // Every bridge subscribed first, so that none of them starts the channel's journal midway.
  const warm = bridges.map((b) => sseCat(t, `${b.url}/events/hop`, { timeout: 60 }));
  for (const w of warm) await w.waitOpen();
  await waitSubscribed(pub, 'hop', 3);
  const p = publisher(pub, 'hop', { every: 3 });
  const got = [];
  let last = null;
  for (let hop = 0; hop < 20; hop++) {
    const b = bridges[hop % 3];
    const headers = last ? [`Last-Event-ID: ${last}`] : [];
    const cat = sseCat(t, `${b.url}/events/hop`, { count: 5, headers, timeout: 20 });
    assert.equal((await cat.done()).code, 0, `hop ${hop}`);
    got.push(...cat.events);
    last = cat.events.at(-1).id;
  }
  await p.stop();
  assert.deepEqual(got.filter((e) => e.event === 'gap'), [], 'no gap event');
  const s = seqs(got);
  assert.equal(s.length, 100);
  // Exactly the journal from the first event on: no gap, no duplicate. (The journal's order, not
  // the publisher's: a plain PUBLISH is journalled by the writer after Redis delivered it, so an
  // sse_publish sent just after it may come first.)
  const journalled = (await journal(pub, 'sse:journal:hop')).filter((e) => e.gap === null).map((e) => e.seq);
  const from = journalled.indexOf(s[0]);
  assert.deepEqual(s, journalled.slice(from, from + 100),
    `the journal's entries, none missing, none twice (${journalled.length} journalled: ${journalled.join(' ')}; ids ${got.map((e) => e.id).join(' ')})`);
  assert.deepEqual([...s].sort((a, b) => a - b), [...Array(100).keys()].map((i) => Math.min(...s) + i),
    'consecutive seqs');
  const ids = got.map((e) => e.id);
  for (let i = 1; i < ids.length; i++) assert.ok(cmpId(ids[i - 1], ids[i]) < 0, 'ids increase');
  for (const w of warm) await w.stop();
});

test('the writer SIGKILLed: another bridge takes the lease within journal_lease, one gap event, nothing twice', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridges = await threeBridges(t, redis);
  const cats = bridges.map((b) => sseCat(t, `${b.url}/events/fail`, { timeout: 60 }));
  for (const c of cats) await c.waitOpen();
  await waitSubscribed(pub, 'fail', 3);
  const p = publisher(pub, 'fail');
  await waitFor(() => cats.every((c) => c.events.length >= 20), { what: '20 events everywhere' });
  const writer = await writerOf(pub, bridges, 'fail');
  assert.ok(writer, 'a writer holds the lease');
  const survivors = bridges.filter((b) => b !== writer);
  const killedAt = Date.now();
  await writer.stop('SIGKILL');
  let next = null;
  await waitFor(async () => (next = await writerOf(pub, survivors, 'fail')) !== null,
    { what: 'another bridge to take the lease', interval: 10 });
  const tookMs = Date.now() - killedAt;
  // The lease lives 3/4 of journal_lease after its last renewal; a bridge tries every 1/4.
  assert.ok(tookMs <= LEASE_MS + 250, `taken over after ${tookMs} ms (journal_lease ${LEASE_MS} ms)`);
  const at = p.seq;
  await waitFor(() => survivors.every((b) => cats[bridges.indexOf(b)].events.some((e) =>
    e.event !== 'gap' && JSON.parse(e.data).seq >= at + 20)), { what: '20 more events' });
  await p.stop();
  const finalSeq = p.seq - 1;
  await waitFor(() => survivors.every((b) => seqs(cats[bridges.indexOf(b)].events).at(-1) === finalSeq),
    { what: 'the last event everywhere' });
  const entries = await journal(pub, 'sse:journal:fail');
  const journalled = entries.filter((e) => e.gap === null).map((e) => e.seq);
  assert.equal(new Set(journalled).size, journalled.length, 'no message journalled twice');
  assert.deepEqual(entries.filter((e) => e.gap).map((e) => e.gap), ['journal-started', 'journal-resumed']);
  const lost = p.sent.publish.filter((s) => !journalled.includes(s));
  assert.ok(lost.length <= Math.ceil((tookMs + 100) / 5), `${lost.length} plain PUBLISHes lost in the window`);
  for (const s of p.sent.fcall) assert.ok(journalled.includes(s), `sse_publish ${s} journalled`);
  for (const b of survivors) {
    const events = cats[bridges.indexOf(b)].events;
    const gaps = events.filter((e) => e.event === 'gap').map((e) => JSON.parse(e.data).reason);
    assert.deepEqual(gaps, ['journal-resumed'], 'one gap event for the window');
    const s = seqs(events);
    assert.equal(new Set(s).size, s.length, 'no duplicate');
    assert.deepEqual(s, journalled.filter((x) => x >= s[0]), 'what the journal has, in order');
    for (const x of p.sent.fcall.filter((x) => x >= s[0])) assert.ok(s.includes(x), `sse_publish ${x} arrived`);
  }
  assert.ok(next.log.join('\n').includes(
    'journal: writing sse:journal:fail (lease taken over, '));
  for (const c of cats) await c.stop();
});

test('the writer SIGKILLed while only sse_publish publishes: taken over with no gap event, nothing lost', async (t) => {
  // The new writer heard no plain PUBLISH it dropped in the window, so the journal has no gap:
  // no journal-resumed marker, no gap event, every message once.
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridges = await threeBridges(t, redis);
  const cats = bridges.map((b) => sseCat(t, `${b.url}/events/quiet`, { timeout: 60 }));
  for (const c of cats) await c.waitOpen();
  await waitSubscribed(pub, 'quiet', 3);
  // A plain PUBLISH first, so that a bridge writes (and takes the lease); then only sse_publish.
  await pub.publish('quiet', JSON.stringify({ seq: -1, via: 'publish' }));
  let writer = null;
  await waitFor(async () => (writer = await writerOf(pub, bridges, 'quiet')) !== null,
    { what: 'a writer' });
  // Past one lease, so that the others have watched it long enough to vouch for the handover.
  await new Promise((r) => setTimeout(r, LEASE_MS + 500));
  const p = publisher(pub, 'quiet', { only: 'fcall' });
  await waitFor(() => cats.every((c) => dataEvents(c.events).length >= 20), { what: '20 events everywhere' });
  const survivors = bridges.filter((b) => b !== writer);
  await writer.stop('SIGKILL');
  let next = null;
  await waitFor(async () => (next = await writerOf(pub, survivors, 'quiet')) !== null,
    { what: 'another bridge to take the lease', interval: 10 });
  const at = p.seq;
  await waitFor(() => survivors.every((b) => seqs(cats[bridges.indexOf(b)].events).at(-1) >= at + 20),
    { what: '20 more events' });
  await p.stop();
  const finalSeq = p.seq - 1;
  await waitFor(() => survivors.every((b) => seqs(cats[bridges.indexOf(b)].events).at(-1) === finalSeq),
    { what: 'the last event everywhere' });
  const entries = await journal(pub, 'sse:journal:quiet');
  assert.deepEqual(entries.filter((e) => e.gap).map((e) => e.gap), ['journal-started']);
  const journalled = entries.filter((e) => e.gap === null).map((e) => e.seq);
  assert.deepEqual(journalled, [-1, ...p.sent.fcall], 'every message once, in order');
  for (const b of survivors) {
    const events = cats[bridges.indexOf(b)].events;
    assert.deepEqual(events.filter((e) => e.event === 'gap'), [], 'no gap event');
    assert.deepEqual(seqs(events), journalled, 'exactly the journal');
  }
  assert.ok(next.log.join('\n').includes('journal: writing sse:journal:quiet (lease taken over, nothing missed)'),
    next.log.join('\n'));
  for (const c of cats) await c.stop();
});

test('a writer paused past its lease writes nothing once resumed (fencing)', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridges = await threeBridges(t, redis);
  const cats = bridges.map((b) => sseCat(t, `${b.url}/events/fence`, { timeout: 60 }));
  for (const c of cats) await c.waitOpen();
  await waitSubscribed(pub, 'fence', 3);
  const p = publisher(pub, 'fence');
  await waitFor(() => cats.every((c) => c.events.length >= 10), { what: '10 events everywhere' });
  const writer = await writerOf(pub, bridges, 'fence');
  const others = bridges.filter((b) => b !== writer);
  writer.child.kill('SIGSTOP');
  t.after(() => { try { writer.child.kill('SIGCONT'); } catch { /* gone */ } });
  await waitFor(async () => (await writerOf(pub, others, 'fence')) !== null,
    { what: 'another bridge to take the lease', timeout: LEASE_MS * 3 });
  const pausedAt = p.seq;
  await new Promise((r) => setTimeout(r, 300)); // messages queue up in the paused writer's socket
  writer.child.kill('SIGCONT');
  await waitFor(() => writer.log.some((l) => l.includes('journal: sse:journal:fence is written by another bridge now')),
    { what: 'the resumed writer to learn it lost the lease' });
  await new Promise((r) => setTimeout(r, 300));
  await p.stop();
  const entries = await journal(pub, 'sse:journal:fence');
  const journalled = entries.filter((e) => e.gap === null).map((e) => e.seq);
  assert.equal(new Set(journalled).size, journalled.length, 'nothing journalled twice');
  for (const s of p.sent.publish.filter((x) => x > pausedAt)) assert.ok(journalled.includes(s), `seq ${s} journalled by the new writer`);
  assert.equal(await writerOf(pub, others, 'fence') !== null, true, 'the new writer keeps the lease');
  // The resumed bridge's clients read the journal: the same events as the others, no duplicate.
  const last = p.seq - 1;
  await waitFor(() => cats.every((c) => seqs(c.events).at(-1) === last), { what: 'the last event everywhere' });
  const s = seqs(cats[bridges.indexOf(writer)].events);
  assert.equal(new Set(s).size, s.length, 'no duplicate on the resumed bridge');
  for (const c of cats) await c.stop();
});

test('a journalled MQTT route on two bridges: the broker\'s messages journalled once', async (t) => {
  const redis = await startRedis(t);
  const broker = await startMosquitto(t);
  const pub = redis.client();
  const mqtt = `${config}log_level = debug\n\n[mqtt]\nurl = ${broker.url}\n\n[route rooms]\npath = /rooms/{room}\n` +
    'mqtt_topic = rooms/{room}\njournal = 100\n';
  const bridges = [await startBridge(t, { redis, config: mqtt }), await startBridge(t, { redis, config: mqtt })];
  const N = 30;
  const cats = bridges.map((b) => sseCat(t, `${b.url}/rooms/kitchen`, { n: 2, count: N, timeout: 60 }));
  for (const c of cats) await c.waitOpen();
  // Journalled from when the lease holder's journal session has subscribed.
  await waitFor(() => bridges.some((b) => b.log.some((l) => l.includes('mqtt: journal session subscribed to rooms/kitchen'))),
    { what: 'the journal session\'s subscription' });
  for (let seq = 0; seq < N; seq++) await broker.pub('rooms/kitchen', JSON.stringify({ seq }));
  for (const c of cats) assert.equal((await c.done()).code, 0);
  const entries = (await journal(pub, 'sse:journal:m:rooms/kitchen')).filter((e) => e.gap === null);
  assert.deepEqual(entries.map((e) => e.seq), [...Array(N).keys()], 'each message journalled once');
  const want = entries.map((e) => e.id);
  for (const c of cats) for (let conn = 0; conn < 2; conn++)
    assert.deepEqual(dataEvents(c.eventsOf(conn)).map((e) => e.id), want, 'the same ids on both bridges');
});

test('a journalled MQTT route: the writer SIGKILLed, its journal session goes to the next writer, nothing lost', async (t) => {
  // One persistent session per journalled filter, held by the lease holder: what the broker
  // receives while no writer is connected is queued for that session and journalled by the
  // next holder, which connects with the same client id. Without it the survivor would drop
  // those messages (it heard them on its own client while not the writer) and write a gap.
  const redis = await startRedis(t);
  const broker = await startMosquitto(t);
  const pub = redis.client();
  const mqtt = `${config}log_level = debug\n\n[mqtt]\nurl = ${broker.url}\n\n[route rooms]\n` +
    'path = /rooms/{room}\nmqtt_topic = rooms/{room}\njournal = 100\n';
  const bridges = [await startBridge(t, { redis, config: mqtt }), await startBridge(t, { redis, config: mqtt })];
  const cats = bridges.map((b) => sseCat(t, `${b.url}/rooms/hall`, { timeout: 60 }));
  for (const c of cats) await c.waitOpen();
  const opened = (b) => b.log.some((l) => l.includes('mqtt: journal session subscribed to rooms/hall'));
  await waitFor(() => bridges.some(opened), { what: 'the writer\'s journal session' });
  const writer = bridges.find(opened);
  const survivor = bridges.find((b) => b !== writer);
  assert.ok(!opened(survivor), 'one journal session: the lease holder\'s');
  const send = async (from, to) => { for (let seq = from; seq < to; seq++) await broker.pub('rooms/hall', JSON.stringify({ seq })); };
  await send(0, 10);
  await waitFor(() => cats.every((c) => seqs(c.events).length === 10), { what: 'the first 10 everywhere' });
  await writer.stop('SIGKILL');
  await send(10, 20); // no writer: the broker queues them for the session
  await waitFor(() => survivor.log.some((l) => l.includes('mqtt: journal session of rooms/hall open (kept by the broker')),
    { what: 'the survivor to take the session over' });
  await send(20, 30);
  const mine = cats[bridges.indexOf(survivor)];
  await waitFor(() => seqs(mine.events).length >= 30, { what: 'all 30 on the survivor' });
  assert.deepEqual(seqs(mine.events), [...Array(30).keys()], 'every message once, in order');
  assert.deepEqual(mine.events.filter((e) => e.event === 'gap'), [], 'no gap event: nothing was lost');
  const entries = await journal(pub, 'sse:journal:m:rooms/hall');
  assert.deepEqual(entries.filter((e) => e.gap === null).map((e) => e.seq), [...Array(30).keys()], 'journalled once each');
  assert.deepEqual(entries.filter((e) => e.gap).map((e) => e.gap), ['journal-started'], 'no journal-resumed marker');
  for (const c of cats) await c.stop();
});

test('journal_lease = 0: one bridge journals with plain XADD, no lease, and replays exactly', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridge = await startBridge(t, { redis, config: config.replace(/journal_lease = \S+/, 'journal_lease = 0') });
  const first = sseCat(t, `${bridge.url}/events/solo`, { count: 5, timeout: 30 });
  await first.waitOpen();
  await waitSubscribed(pub, 'solo', 1);
  for (let seq = 0; seq < 10; seq++) await pub.publish('solo', JSON.stringify({ seq }));
  assert.equal((await first.done()).code, 0);
  const entries = (await journal(pub, 'sse:journal:solo')).filter((e) => e.gap === null);
  assert.deepEqual(entries.map((e) => e.seq), [...Array(10).keys()], 'each message journalled once');
  assert.deepEqual(first.events.map((e) => e.id), entries.slice(0, 5).map((e) => e.id), 'the entry ids');
  assert.equal(await pub.exists('sse:journal:solo:lease'), 0, 'no lease without journal_lease');
  const again = sseCat(t, `${bridge.url}/events/solo`, { count: 5, headers: [`Last-Event-ID: ${first.events[4].id}`] });
  assert.equal((await again.done()).code, 0);
  assert.deepEqual(seqs(again.events), [5, 6, 7, 8, 9], 'the rest, replayed');
  assert.equal((await bridge.stop()).code, 0);
});

test('a writer whose clients have all gone releases its lease, and another bridge takes it at once', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  // A long lease (it lives 7.5 s, ticks every 2.5 s): released, it is gone well before that.
  const short = `${config.replace(/journal_lease = \S+/, 'journal_lease = 10s')}journal_linger = 300ms\nlinger = 100ms\n`;
  const a = await startBridge(t, { redis, config: short });
  const b = await startBridge(t, { redis, config: short });
  const onA = sseCat(t, `${a.url}/events/rel`, { count: 1, timeout: 30 });
  await onA.waitOpen();
  await waitSubscribed(pub, 'rel', 1);
  await pub.publish('rel', JSON.stringify({ seq: 0 }));
  assert.equal((await onA.done()).code, 0);
  assert.equal(await writerOf(pub, [a, b], 'rel'), a, 'the bridge that wrote holds the lease');
  // Gone from a: released at the first tick after its linger ran out, not left to expire.
  await waitFor(async () => (await pub.exists('sse:journal:rel:lease')) === 0,
    { what: 'the lease released', timeout: 4000 });
  const onB = sseCat(t, `${b.url}/events/rel`, { count: 1, timeout: 30 });
  await onB.waitOpen();
  await waitSubscribed(pub, 'rel', 1);
  await pub.publish('rel', JSON.stringify({ seq: 1 }));
  assert.equal((await onB.done()).code, 0);
  assert.deepEqual(seqs(onB.events), [1]);
  assert.equal(await writerOf(pub, [a, b], 'rel'), b, 'the other bridge writes now');
});
