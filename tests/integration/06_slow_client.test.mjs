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

test('slow client cut off while others keep receiving', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config: '[bridge]\nclient_buffer = 4MiB\n' });
  const pub = redis.client();
  const N = 300;
  const payload = 'p'.repeat(64 * 1024);
  const good = sseCat(t, `${bridge.url}/events/bulk`, { n: 2, count: N, timeout: 60 });
  await good.waitOpen();

  // The slow client: sends its request, then never reads a byte.
  const slow = connect(bridge.port, '127.0.0.1');
  let slowClosed = false;
  slow.on('close', () => { slowClosed = true; });
  slow.on('error', () => {});
  slow.write(`GET /events/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  slow.pause();
  t.after(() => slow.destroy());
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
  slow.resume(); // read what the kernel holds, then see the connection end
  await waitFor(() => slowClosed, { what: 'slow connection closed by the bridge' });
  // 19 MB went through; the bridge held at most ~client_buffer per client at any time.
  // (AddressSanitizer's quarantine keeps freed memory resident, so RSS says nothing there.)
  const grown = rssKiB(bridge.child.pid) - rssBefore;
  if (process.env.SSE_BRIDGE_SANITIZED === '1') t.diagnostic(`RSS grew by ${grown} KiB (sanitized build)`);
  else assert.ok(grown < 16 * 1024, `RSS grew by ${grown} KiB`);
  assert.equal((await bridge.stop()).code, 0);
});
