// A client that stops reading is cut off once its unsent bytes pass client_buffer; the others
// keep receiving everything and the bridge's memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { startRedis, startBridge, sseCat, waitSubscribed, waitFor } from './lib/harness.mjs';

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// A client that sends its request, then never reads a byte (until resume()); `closed` says
// when its connection has ended.
function stuckClient(t, port, path) {
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => {});
  sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  sock.pause();
  t.after(() => sock.destroy());
  return sock;
}

// The two ways a stuck client is cut share one counter (clients_slow_cut_total); the log line
// says which one it was.
const bufferCut = /client: cut off a slow client \(\d+ bytes unsent, limit (\d+)\)/;
const timeoutCut = /client: cut off a client that took no byte for (\d+) ms/;
const cuts = (bridge, re) => bridge.log.filter((l) => re.test(l));

test('slow client cut off by client_buffer while others keep receiving (no write timeout)', async (t) => {
  const redis = await startRedis(t);
  // client_write_timeout = 0: no write timeout at all, only the buffer can cut the client.
  const bridge = await startBridge(t, { redis,
    config: '[bridge]\nclient_buffer = 4MiB\nclient_write_timeout = 0\n' });
  const pub = redis.client();
  const N = 300;
  const payload = 'p'.repeat(64 * 1024);
  const good = sseCat(t, `${bridge.url}/events/bulk`, { n: 2, count: N, timeout: 60 });
  await good.waitOpen();

  const slow = stuckClient(t, bridge.port, '/events/bulk');
  await waitFor(async () => (await bridge.metrics()).clients === 3, { what: '3 clients' });
  await waitSubscribed(pub, 'bulk', 1);
  const rssBefore = rssKiB(bridge.child.pid);

  // Publish no faster than the reading clients read (a window of 8 messages), so that only
  // the client that never reads can pass the limit.
  for (let i = 0; i < N; i++) {
    if (i >= 8) await good.waitEvents(2 * (i - 8), { interval: 2 });
    await pub.publish('bulk', `${i} ${payload}`);
  }
  assert.equal((await good.done()).code, 0, 'the reading clients got every message');
  for (const conn of [0, 1]) {
    assert.deepEqual(good.eventsOf(conn).map((e) => Number(e.data.split(' ')[0])), [...Array(N).keys()]);
  }
  const m = await bridge.metrics();
  assert.equal(m.clients_slow_cut_total, 1, 'exactly the slow client was cut');
  assert.deepEqual(cuts(bridge, bufferCut).map((l) => bufferCut.exec(l)[1]), [String(4 * 1024 * 1024)],
    'cut by client_buffer');
  assert.deepEqual(cuts(bridge, timeoutCut), [], 'client_write_timeout = 0: never cut by a timeout');
  slow.resume(); // read what the kernel holds, then see the connection end
  await waitFor(() => slow.closed, { what: 'slow connection closed by the bridge' });
  // 19 MB went through; the bridge held at most ~client_buffer per client at any time.
  // (AddressSanitizer's quarantine keeps freed memory resident, so RSS says nothing there.)
  const grown = rssKiB(bridge.child.pid) - rssBefore;
  if (process.env.SSE_BRIDGE_SANITIZED === '1') t.diagnostic(`RSS grew by ${grown} KiB (sanitized build)`);
  else assert.ok(grown < 16 * 1024, `RSS grew by ${grown} KiB`);
  assert.equal((await bridge.stop()).code, 0);
});

for (const chatty of [false, true]) {
  const what = chatty ? ', even while it keeps sending bytes' : '';
  test(`a client that takes no byte for client_write_timeout is cut off${what}`, async (t) => {
    const redis = await startRedis(t);
    // A buffer too large to be passed here: only the timeout can cut the client.
    const bridge = await startBridge(t, {
      redis,
      config: '[bridge]\nclient_buffer = 64MiB\nclient_write_timeout = 1s\n',
    });
    const pub = redis.client();
    const good = sseCat(t, `${bridge.url}/events/stuck`, { count: 42, timeout: 30 });
    await good.waitOpen();
    const stuck = stuckClient(t, bridge.port, '/events/stuck');
    // Bytes from the peer must not restart the write timeout.
    const chatter = chatty ? setInterval(() => stuck.write('x'), 100) : null;
    t.after(() => clearInterval(chatter));
    await waitFor(async () => (await bridge.metrics()).clients === 2, { what: '2 clients' });
    await waitSubscribed(pub, 'stuck', 1);
    // More than the kernel buffers of both ends hold (a few MB on loopback), so that bytes wait
    // in the bridge and the write side is timed.
    const payload = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 40; i++) await pub.publish('stuck', `${i} ${payload}`);
    await waitFor(async () => (await bridge.metrics()).clients_slow_cut_total === 1,
      { what: 'the stuck client cut off', timeout: 15000 });
    assert.equal((await bridge.metrics()).clients, 1, 'the reading client stays');
    assert.deepEqual(cuts(bridge, timeoutCut).map((l) => timeoutCut.exec(l)[1]), ['1000'],
      'cut by client_write_timeout');
    assert.deepEqual(cuts(bridge, bufferCut), [], 'not by client_buffer');
    clearInterval(chatter);
    stuck.resume();
    await waitFor(() => stuck.closed, { what: 'stuck connection closed by the bridge' });
    await pub.publish('stuck', 'after');
    await pub.publish('stuck', 'after-2');
    assert.equal((await good.done()).code, 0);
    const got = good.eventsOf(0).map((e) => e.data.split(' ')[0]);
    const want = [...Array(40).keys()].map(String).concat(['after', 'after-2']);
    assert.deepEqual(got, want, 'the reading client got everything, in order');
    assert.equal((await bridge.stop()).code, 0);
  });
}
