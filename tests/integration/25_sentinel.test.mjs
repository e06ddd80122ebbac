// Redis Sentinel (README: Running several bridges): a primary, a replica and three sentinels on
// loopback; the bridge finds the primary through the sentinels (redis = sentinel://...); the
// primary SIGKILLed, the sentinels promote the replica and the bridge follows it: a stream route
// resumes after the last entry the replica has, a journalled channel goes on with its journal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { startRedis, startBridge, sseCat, waitFor, freePort, tempDir } from './lib/harness.mjs';

async function startSentinel(t, primaryPort) {
  const dir = tempDir('sse-bridge-sentinel-');
  const port = await freePort();
  const file = join(dir, 'sentinel.conf');
  writeFileSync(file, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor mymaster 127.0.0.1 ${primaryPort} 2`,
    'sentinel down-after-milliseconds mymaster 1000',
    'sentinel failover-timeout mymaster 5000',
    'sentinel parallel-syncs mymaster 1', ''].join('\n'));
  const child = spawn('redis-sentinel', [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const log = [];
  createInterface({ input: child.stdout }).on('line', (l) => log.push(l));
  const exited = new Promise((r) => child.on('exit', r));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
    rmSync(dir, { recursive: true, force: true });
  });
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null,
    maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  await waitFor(async () => {
    try { await probe.connect(); return (await probe.ping()) === 'PONG'; } catch { probe.disconnect(); return false; }
  }, { what: `redis-sentinel on ${port}` });
  t.after(() => probe.disconnect());
  return { port, log, client: probe };
}

test('the primary SIGKILLed: the bridge follows the promoted replica and resumes', async (t) => {
  const primary = await startRedis(t);
  const replica = await startRedis(t, { args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const p = primary.client();
  const r = replica.client();
  await waitFor(async () => /master_link_status:up/.test(await r.info('replication')),
    { what: 'the replica in sync' });
  const sentinels = [];
  for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(t, primary.port));
  await waitFor(async () => Number((await sentinels[0].client.call('SENTINEL', 'MASTER', 'mymaster'))
    .reduce((o, v, k, a) => (k % 2 ? o : { ...o, [v]: a[k + 1] }), {})['num-other-sentinels']) === 2,
  { what: 'the sentinels to know each other', timeout: 15000 });

  const url = `sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/mymaster`;
  const config = '[bridge]\nretry = 100ms\nbackoff_min = 50ms\nbackoff_max = 300ms\n' +
    '[route s]\npath = /s/{name}\nstream = {name}\n' +
    '[route c]\npath = /events/{c}\nchannel = {c}\njournal = 100\n';
  const bridge = await startBridge(t, { args: ['--redis', url], config });
  assert.ok(bridge.log.some((l) => l.includes(`says the primary of mymaster is 127.0.0.1:${primary.port}`)));

  const stream = sseCat(t, `${bridge.url}/s/orders`, { timeout: 60 });
  const channel = sseCat(t, `${bridge.url}/events/news`, { timeout: 60 });
  await stream.waitOpen();
  await channel.waitOpen();
  await waitFor(async () => Number((await p.pubsub('NUMSUB', 'news'))[1]) === 1, { what: 'subscribed' });
  for (let i = 0; i < 5; i++) await p.xadd('orders', '*', 'data', JSON.stringify({ seq: i }));
  await p.publish('news', JSON.stringify({ seq: 0 }));
  await stream.waitEvents(5);
  await channel.waitEvents(1);
  assert.equal(await p.wait(1, 2000), 1, 'the replica has every entry');

  await primary.stop('SIGKILL');
  await waitFor(() => bridge.log.some((l) => l.includes(`says the primary of mymaster is 127.0.0.1:${replica.port}`)),
    { what: 'the bridge to follow the promoted replica', timeout: 20000 });
  // Told by +switch-master too (the reconnects that follow the kill may have asked first).
  await waitFor(() => bridge.log.some((l) => /sentinel failover of mymaster/.test(l)),
    { what: 'the +switch-master notification', timeout: 10000 });
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 200, { what: 'healthy again', timeout: 10000 });
  await waitFor(async () => Number((await r.pubsub('NUMSUB', 'news'))[1]) === 1, { what: 'subscribed on the new primary' });
  for (let i = 5; i < 10; i++) await r.xadd('orders', '*', 'data', JSON.stringify({ seq: i }));
  await r.publish('news', JSON.stringify({ seq: 1 }));
  await stream.waitEvents(10);
  await waitFor(() => channel.events.some((e) => e.event !== 'gap' && JSON.parse(e.data).seq === 1),
    { what: 'the channel\'s message after the failover' });
  assert.deepEqual(stream.events.map((e) => JSON.parse(e.data).seq), [...Array(10).keys()],
    'the stream resumed after the replica\'s last entry: no gap, no duplicate');
  assert.equal(stream.closed.length + channel.closed.length, 0, 'no client was cut off');
  assert.equal((await bridge.stop()).code, 0);
});
