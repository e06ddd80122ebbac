// Hostile clients at the door: connections that never send a request, slowloris drips, more
// idle connections than max_pending_connections, the process's file limit reached from two
// client processes, and the per-connection kernel send buffer (client_socket_buffer). Bounded:
// every connection is closed by the test, every wait has a deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { startRedis, startBridge, sseCat, waitFor, rawRequest } from './lib/harness.mjs';

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
