// Hostile clients at the door: connections that never send a request, slowloris drips, more
// idle connections than max_pending_connections, the process's file limit reached from two
// client processes, and the per-connection kernel send buffer (client_socket_buffer). Bounded:
// every connection is closed by the test, every wait has a deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { startRedis, startBridge, startMosquitto, sseCat, waitFor, rawRequest } from './lib/harness.mjs';

// A raw connection; `closed` resolves with the ms from connect to the server's close.
function idle(port) {
  const sock = connect(port, '127.0.0.1');
  const start = Date.now();
  sock.on('error', () => {});
  sock.gone = new Promise((resolve) => sock.on('close', () => resolve(Date.now() - start)));
  sock.opened = new Promise((resolve) => sock.on('connect', resolve));
  return sock;
}

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

test('request_timeout closes a connection that never sends a request, and a slowloris drip', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config: '[bridge]\nrequest_timeout = 600ms\n' });
  const quiet = idle(bridge.port);
  const drip = idle(bridge.port);
  await drip.opened;
  const head = 'GET /events/x HTTP/1.1\r\nHost: a\r\nX-Slow: ';
  let i = 0;
  const timer = setInterval(() => { if (!drip.destroyed) drip.write(head[i++ % head.length]); }, 50);
  t.after(() => clearInterval(timer));
  const [q, d] = await Promise.all([quiet.gone, drip.gone]);
  clearInterval(timer);
  // Closed at the deadline, not before it, and not by a per-read timeout (the drip reads on).
  for (const ms of [q, d]) assert.ok(ms >= 500 && ms < 3000, `closed after ${ms} ms`);
  const m = await bridge.metrics();
  assert.equal(m.connections_timed_out_total, 2);
  assert.equal(m.connections_pending, 0);
  // A connection that sends its request in time is served, and a stream outlives the deadline.
  const cat = sseCat(t, `${bridge.url}/events/x`, { count: 1 });
  await cat.waitOpen();
  await new Promise((r) => setTimeout(r, 900));
  await redis.client().publish('x', 'after the deadline');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => e.data), ['after the deadline']);
  assert.equal((await bridge.metrics()).connections_timed_out_total, 2);
});

test('max_pending_connections: idle connections past it are closed at once; streams are not counted', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis,
    config: '[bridge]\nrequest_timeout = 3s\nmax_pending_connections = 4\n' });
  // Streams first: once they have sent their request they take no pending slot (three at a
  // time, so that they fit in the four slots while they connect).
  const cat = sseCat(t, `${bridge.url}/events/y`, { n: 3, count: 1 });
  await cat.waitOpen();
  const cat2 = sseCat(t, `${bridge.url}/events/y`, { n: 3, count: 1 });
  await cat2.waitOpen();
  const socks = [];
  for (let k = 0; k < 4; k++) {
    socks.push(idle(bridge.port));
    await socks[k].opened;
    await waitFor(async () => (await bridge.metrics()).connections_pending === k + 1,
      { what: `${k + 1} pending` });
  }
  const extra = [idle(bridge.port), idle(bridge.port)];
  const shed = await Promise.all(extra.map((s) => s.gone));
  for (const ms of shed) assert.ok(ms < 1500, `shed after ${ms} ms, before the 3 s deadline`);
  let m = await bridge.metrics();
  assert.equal(m.connections_shed_total, 2);
  assert.equal(m.connections_pending, 4);
  assert.equal(m.clients, 6);
  for (const s of socks) s.destroy();
  // The streams were untouched.
  await redis.client().publish('y', 'still here');
  assert.equal((await cat.done()).code, 0);
  assert.equal((await cat2.done()).code, 0);
  assert.equal(cat.events.length + cat2.events.length, 6);
  // The four closed ones are forgotten at their deadline at the latest.
  await waitFor(async () => (await bridge.metrics()).connections_pending === 0,
    { timeout: 6000, what: 'no pending connections' });
  m = await bridge.metrics();
  assert.equal(m.connections_timed_out_total, 0, 'closed by their peers, not timed out');
});

// Opens `n` connections from a child process and holds them for `ms`.
function holder(port, n, ms) {
  const code = `
    const net = require('net'); let open = 0, closed = 0;
    for (let i = 0; i < ${n}; i++) {
      const s = net.connect(${port}, '127.0.0.1');
      s.on('connect', () => open++); s.on('error', () => {}); s.on('close', () => closed++);
    }
    setTimeout(() => { console.log(JSON.stringify({ open, closed })); process.exit(0); }, ${ms});`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  return new Promise((resolve) => child.on('close', () => resolve(JSON.parse(out))));
}

test('the file limit reached from two processes: no spin, one log line per episode, then served again', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, wrap: ['prlimit', '--nofile=64:64'],
    config: '[bridge]\nrequest_timeout = 5s\nmax_pending_connections = 1000\n' });
  const cpu0 = cpuSeconds(bridge.child.pid);
  const results = await Promise.all([holder(bridge.port, 80, 2500), holder(bridge.port, 80, 2500)]);
  const cpu = cpuSeconds(bridge.child.pid) - cpu0;
  // Spinning on EMFILE was a whole core: 2.5 s. Pausing costs next to nothing.
  assert.ok(cpu < 0.5, `the bridge used ${cpu} s of CPU over 2.5 s at the file limit`);
  const refused = results.reduce((a, r) => a + r.closed, 0);
  assert.ok(refused > 0, 'connections past the limit were refused, not left waiting');
  // The episode ends with an accept a second after the last refusal: ask until it is logged.
  const ended = /accepting again; \d+ connection\(s\) refused at the file limit/;
  // (a new connection each time: an accept is what ends it)
  await waitFor(async () => / 200 /.test(await rawRequest(bridge.port, 'GET /healthz HTTP/1.0\r\n\r\n')) &&
    bridge.log.some((l) => ended.test(l)), { timeout: 8000, interval: 200, what: 'the end of the episode' });
  const pauses = bridge.log.filter((l) => /pausing new connections/.test(l)).length;
  assert.equal(pauses, 1, `one warning for the episode: ${pauses}`);
  const res = await fetch(`${bridge.url}/healthz`);
  assert.equal(res.status, 200);
  const m = await bridge.metrics();
  assert.ok(m.connections_refused_total > 0);
  assert.equal((await bridge.stop()).code, 0);
});

// The kernel's send buffer of the bridge's end of each stream (ss reports sk_sndbuf as tb,
// which is twice what SO_SNDBUF asked for).
function sendBuffers(port) {
  const out = spawnSync('ss', ['-tmnH', 'state', 'established', `( sport = :${port} )`],
    { encoding: 'utf8' }).stdout;
  return [...out.matchAll(/tb(\d+)/g)].map((m) => Number(m[1]));
}

for (const [setting, want] of [['64KiB', 131072], ['160KiB', 327680]]) {
  test(`client_socket_buffer = ${setting} bounds the kernel's buffer of every stream`, async (t) => {
    const redis = await startRedis(t);
    const bridge = await startBridge(t, { redis, config: `[bridge]\nclient_socket_buffer = ${setting}\n` });
    const cat = sseCat(t, `${bridge.url}/events/z`, { n: 3, count: 1 });
    await cat.waitOpen();
    const tb = sendBuffers(bridge.port);
    // The three streams, and the harness's keep-alive health check: every connection.
    assert.ok(tb.length >= 3, `three streams at least: ${tb}`);
    assert.deepEqual(tb, tb.map(() => want));
  });
}

test('a hung Redis (SIGSTOP) is noticed by the probe: 503, one log line each way, then streams resume', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis,
    config: '[bridge]\nredis_probe_interval = 300ms\nredis_probe_timeout = 300ms\n' });
  const pub = redis.client();
  const cat = sseCat(t, `${bridge.url}/events/hung`);
  await cat.waitOpen();
  await waitFor(async () => { await pub.publish('hung', 'before'); return cat.events.length > 0; },
    { interval: 100, what: 'the first event' });
  redis.child.kill('SIGSTOP');
  let stopped = true;
  t.after(() => { if (stopped) redis.child.kill('SIGCONT'); });
  const t0 = Date.now();
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 503,
    { timeout: 3000, what: '/healthz 503 while Redis is stopped' });
  assert.ok(Date.now() - t0 < 2000, `noticed after ${Date.now() - t0} ms`);
  const health = await (await fetch(`${bridge.url}/healthz`)).json();
  assert.equal(health.redis, 'down');
  // Stopped for a while: still one warning for the episode.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(bridge.log.filter((l) => /has not answered PING/.test(l)).length, 1);
  redis.child.kill('SIGCONT');
  stopped = false;
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 200,
    { timeout: 5000, what: '/healthz 200 after SIGCONT' });
  assert.equal(bridge.log.filter((l) => /answers again after \d+ ms/.test(l)).length, 1);
  // The open stream goes on (told of the hole by a gap event), and a new client gets a position.
  await waitFor(async () => { await pub.publish('hung', 'after'); return cat.events.some((e) => e.data === 'after'); },
    { interval: 200, what: 'an event after the stop' });
  await cat.stop();
  // (the warm-up may have published 'before' more than once)
  const datas = cat.events.map((e) => [e.event, e.data]).filter(([, d]) => d !== 'before');
  assert.deepEqual(datas[0], ['gap', '{"topic":"hung","reason":"journal-resumed"}'], JSON.stringify(cat.events));
  assert.equal(datas[1][1], 'after');
  const fresh = sseCat(t, `${bridge.url}/events/hung`, { count: 1 });
  await fresh.waitOpen();
  await waitFor(async () => { await pub.publish('hung', 'fresh'); return fresh.events.length > 0; },
    { interval: 200, what: 'an event for a new client' });
  assert.ok(fresh.events[0].id, 'a journalled event with its id');
});

test('a hung MQTT broker (SIGSTOP) is noticed by its keepalive: mqtt down, then up again', async (t) => {
  const redis = await startRedis(t);
  const broker = await startMosquitto(t);
  const bridge = await startBridge(t, { redis, args: ['--mqtt', broker.url],
    config: '[mqtt]\nkeepalive = 5s\n[route m]\npath = /m\nmqtt_topic = hung/#\n' });
  broker.child.kill('SIGSTOP');
  let stopped = true;
  t.after(() => { if (stopped) broker.child.kill('SIGCONT'); });
  await waitFor(async () => (await (await fetch(`${bridge.url}/healthz`)).json()).mqtt === 'down',
    { timeout: 15000, interval: 250, what: 'mqtt down within 1.5 keepalives and a check' });
  broker.child.kill('SIGCONT');
  stopped = false;
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 200,
    { timeout: 15000, interval: 250, what: '/healthz 200 after SIGCONT' });
});

test('Redis refusing journal writes (maxmemory, noeviction): degraded, a gap event live, logged at both ends', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  const pub = redis.client();
  const cat = sseCat(t, `${bridge.url}/events/oom`);
  await waitFor(async () => { await pub.publish('oom', 'ok1'); return cat.events.length > 0; },
    { interval: 100, what: 'the first event' });
  await pub.config('SET', 'maxmemory-policy', 'noeviction');
  await pub.config('SET', 'maxmemory', '1');
  for (const m of ['lost1', 'lost2', 'lost3']) await pub.publish('oom', m);
  await waitFor(() => cat.events.some((e) => e.data === 'lost3'), { what: 'the events during OOM' });
  let health = await (await fetch(`${bridge.url}/healthz`)).json();
  assert.equal(health.status, 'degraded');
  assert.equal(health.journal, 'degraded');
  let m = await bridge.metrics();
  assert.equal(m.journal_degraded, 1);
  // (each message, and the gap marker the journal then owes and tries to write first)
  assert.ok(m.journal_write_errors_total >= 3, `${m.journal_write_errors_total} refused`);
  await pub.config('SET', 'maxmemory', '0');
  await waitFor(async () => { await pub.publish('oom', 'ok2'); return cat.events.some((e) => e.data === 'ok2'); },
    { interval: 100, what: 'an event after the episode' });
  await cat.stop();
  const last = cat.events.filter((e) => e.data === 'ok1').at(-1).id; // (the warm-up's last)
  const live = cat.events.filter((e) => e.data !== 'ok1');
  // Told once, the three delivered without ids (not replayable), then journalled again.
  assert.deepEqual(live.slice(0, 4).map((e) => [e.event, e.data, e.id]), [
    ['gap', '{"topic":"oom","reason":"journal-write-failed"}', last],
    ['message', 'lost1', last],
    ['message', 'lost2', last],
    ['message', 'lost3', last],
  ]);
  assert.notEqual(live[4].id, last, 'journalled again: a new id');
  health = await (await fetch(`${bridge.url}/healthz`)).json();
  assert.equal(health.status, 'ok');
  m = await bridge.metrics();
  assert.equal(m.journal_degraded, 0);
  assert.equal(bridge.log.filter((l) => /Redis refuses writes/.test(l)).length, 1);
  assert.equal(bridge.log.filter((l) => /writes succeed again, after \d+ refused/.test(l)).length, 1);
  // A replay across the episode is told of the hole by the journal's own marker.
  const back = sseCat(t, `${bridge.url}/events/oom`, { count: 2, headers: [`Last-Event-ID: ${last}`] });
  assert.equal((await back.done()).code, 0);
  assert.equal(back.events[0].event, 'gap');
  assert.match(back.events[0].data, /journal-resumed/);
});

test('poison entries: an event too large once encoded is a too-large gap with its id, live and replayed', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis,
    config: '[bridge]\nmax_message_size = 256KiB\n[route s]\npath = /s\nstream = poison\n[route j]\npath = /j\nchannel = poison.j\njournal = 100\n[route p]\npath = /p\nchannel = poison.j\n' });
  const pub = redis.client();
  const s = sseCat(t, `${bridge.url}/s`);
  const j = sseCat(t, `${bridge.url}/j`);
  const p = sseCat(t, `${bridge.url}/p`);
  await waitFor(async () => { await pub.xadd('poison', '*', 'data', 'warm'); return s.events.length > 0; },
    { interval: 100, what: 'the stream client' });
  await waitFor(async () => { await pub.publish('poison.j', 'warm'); return j.events.length > 0 && p.events.length > 0; },
    { interval: 100, what: 'the channel clients' });
  const sBefore = s.events.at(-1).id;
  const jBefore = j.events.at(-1).id;
  // A stream entry of 600 KB, past max_message_size; 60 KiB of line breaks (inside it): 420 KiB
  // of frame, past it once encoded.
  const bigId = await pub.xadd('poison', '*', 'data', 'x'.repeat(600000));
  await pub.xadd('poison', '*', 'data', 'next');
  await pub.publish('poison.j', '\n'.repeat(60 * 1024));
  await pub.publish('poison.j', 'next');
  for (const c of [s, j, p]) await waitFor(() => c.events.some((e) => e.data === 'next'), { what: 'next' });
  const gap = (topic) => ['gap', JSON.stringify({ topic, reason: 'too-large' })];
  const after = (c, id) => c.events.slice(c.events.findIndex((e) => e.id === id) + 1)
    .filter((e) => e.data !== 'warm'); // (a warm-up still in flight)
  assert.deepEqual(after(s, sBefore).map((e) => [e.event, e.data]), [gap('poison'), ['message', 'next']]);
  assert.equal(after(s, sBefore)[0].id, bigId, 'the gap carries the entry id: the position moves past it');
  assert.deepEqual(after(j, jBefore).map((e) => [e.event, e.data]), [gap('poison.j'), ['message', 'next']]);
  // The plain route on the same channel drops it and goes on; nobody was cut.
  assert.deepEqual(p.events.filter((e) => e.data !== 'warm').map((e) => e.data), ['next']);
  const m = await bridge.metrics();
  assert.equal(m.clients_slow_cut_total, 0);
  assert.ok(m.messages_dropped_total >= 2);
  // Resuming from before them (the last warm-up): the same gaps, then what followed.
  const lastWarm = (c) => c.events.filter((e) => e.data === 'warm').at(-1).id;
  for (const [path, id, topic] of [['/s', lastWarm(s), 'poison'], ['/j', lastWarm(j), 'poison.j']]) {
    const back = sseCat(t, `${bridge.url}${path}`, { count: 2, headers: [`Last-Event-ID: ${id}`] });
    assert.equal((await back.done()).code, 0);
    assert.deepEqual(back.events.map((e) => [e.event, e.data]), [gap(topic), ['message', 'next']]);
  }
  assert.equal((await bridge.metrics()).clients_slow_cut_total, 0);
});

// A relay to the broker whose bridge-to-broker direction can be swallowed: the bridge's PUBACKs
// then never arrive, and the broker sends those messages again when the session resumes, as
// it does after a crash that lost them.
async function ackSwallowingRelay(t, target) {
  const { createServer } = await import('node:net');
  const relay = { swallow: false, socks: new Set() };
  const server = createServer((client) => {
    const up = connect(target, '127.0.0.1');
    relay.socks.add(client).add(up);
    up.on('data', (d) => client.write(d));
    client.on('data', (d) => { if (!relay.swallow) up.write(d); });
    for (const [a, b] of [[client, up], [up, client]]) {
      a.on('error', () => {});
      a.on('close', () => { relay.socks.delete(a); b.destroy(); });
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = server.address().port;
  relay.cut = () => { for (const s of relay.socks) s.destroy(); };
  t.after(() => { relay.cut(); server.close(); });
  return relay;
}

test('MQTT QoS 1 redeliveries after a lost PUBACK reach clients once', async (t) => {
  const redis = await startRedis(t);
  const broker = await startMosquitto(t);
  const relay = await ackSwallowingRelay(t, broker.port);
  const bridge = await startBridge(t, { redis, args: ['--mqtt', `mqtt://127.0.0.1:${relay.port}`],
    config: '[mqtt]\nclient_id = redelivery-test\n[route q]\npath = /q\nmqtt_topic = q/#\nstatic = true\n' });
  const cat = sseCat(t, `${bridge.url}/q`);
  await cat.waitOpen();
  // At QoS 0: a warm-up message whose PUBACK were still unsent when the relay starts
  // swallowing would be resent too, and counted with the five (seen under ASan).
  await waitFor(async () => { await broker.pub('q/warm', 'warm', { qos: 0 }); return cat.events.length > 0; },
    { interval: 200, what: 'subscribed' });
  relay.swallow = true; // from here the broker hears nothing from the bridge
  for (let i = 1; i <= 5; i++) await broker.pub('q/x', `m${i}`);
  await waitFor(() => cat.events.filter((e) => e.data.startsWith('m')).length === 5, { what: 'five messages' });
  relay.swallow = false;
  relay.cut(); // the bridge reconnects; the broker resends the five it has no PUBACK for
  await waitFor(async () => (await bridge.metrics()).mqtt_reconnects_total >= 1, { what: 'a reconnect' });
  await waitFor(async () => { await broker.pub('q/x', 'after'); return cat.events.some((e) => e.data === 'after'); },
    { interval: 200, what: 'a message after the reconnect' });
  await cat.stop();
  assert.deepEqual(cat.events.map((e) => e.data).filter((d) => /^m\d$/.test(d)), ['m1', 'm2', 'm3', 'm4', 'm5']);
  assert.equal((await bridge.metrics()).mqtt_redeliveries_dropped_total, 5);
});

function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}
function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// One connection ended one of several ways: a whole stream closed by FIN or by RST, a request
// cut off in the middle, a connection that never speaks.
function churnOnce(port, how) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.on('close', resolve);
    sock.on('connect', () => {
      if (how === 'silent') return sock.destroy();
      if (how === 'partial') { sock.write('GET /events/churn HTTP/1.1\r\nHo'); return setImmediate(() => sock.destroy()); }
      sock.write('GET /events/churn HTTP/1.1\r\nHost: x\r\n\r\n');
      sock.once('data', () => (how === 'rst' ? sock.resetAndDestroy() : sock.end()));
    });
  });
}

test('churn: 2,000 connect/stream/close cycles leave descriptors and memory as they were', async (t) => {
  const redis = await startRedis(t);
  // (a short request_timeout: connections closed before their request are forgotten sooner)
  const bridge = await startBridge(t, { redis, config: '[bridge]\nrequest_timeout = 1s\n' });
  const pid = bridge.child.pid;
  const ways = ['fin', 'rst', 'partial', 'silent'];
  const round = async (n) => {
    for (let i = 0; i < n; i += 50) {
      await Promise.all([...Array(50).keys()].map((k) => churnOnce(bridge.port, ways[(i + k) % 4])));
    }
  };
  await round(200); // warm: allocator pools, the topic's subscription
  await waitFor(async () => (await bridge.metrics()).clients === 0, { what: 'no clients' });
  const fd0 = fdCount(pid);
  const rss0 = rssKiB(pid);
  await round(2000);
  await waitFor(async () => (await bridge.metrics()).clients === 0 &&
    (await bridge.metrics()).connections_pending === 0, { timeout: 15000, what: 'every connection gone' });
  await waitFor(() => fdCount(pid) <= fd0, { timeout: 5000, what: `descriptors back to ${fd0} (have ${fdCount(pid)})` });
  const grown = rssKiB(pid) - rss0;
  // (AddressSanitizer's quarantine keeps freed memory resident: RSS says nothing there.)
  if (process.env.SSE_BRIDGE_SANITIZED === '1') t.diagnostic(`RSS grew by ${grown} KiB (sanitized build)`);
  else assert.ok(grown < 2048, `RSS grew by ${grown} KiB over 2,000 cycles`);
  assert.equal((await bridge.stop()).code, 0);
});
