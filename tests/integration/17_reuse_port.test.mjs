// reuse_port: several bridge processes share one port (SO_REUSEPORT), the kernel spreads the
// connections over them, each delivers to its own clients, and one can stop while the others
// go on serving. Without it a second process cannot bind the port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BRIDGE, tempDir, startRedis, startBridge, sseCat, waitFor, waitLog } from './lib/harness.mjs';

const config = '[bridge]\nreuse_port = true\n';
// Established TCP connections of process `pid`, from its socket descriptors and the kernel's
// table: [{local, remote}] ports.
function connections(pid) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const port = (addr) => parseInt(addr.split(':')[1], 16);
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 9 && f[3] === '01' && inodes.has(f[9]))
    .map((f) => ({ local: port(f[1]), remote: port(f[2]) }));
}

// How many of client process `clientPid`'s connections to `port` process `pid` holds (not
// counting, say, the harness's keep-alive health checks).
function streamsHeld(pid, port, clientPid) {
  const ours = new Set(connections(clientPid).filter((c) => c.remote === port).map((c) => c.local));
  return connections(pid).filter((c) => c.local === port && ours.has(c.remote)).length;
}

test('two processes share a port and both deliver; one stops, the other serves', async (t) => {
  const redis = await startRedis(t);
  const a = await startBridge(t, { config, redis, args: ['--journal', '0'] });
  const b = await startBridge(t, { config, redis, args: ['--journal', '0'], port: a.port });
  // /healthz on the shared port may be answered by a: wait until b itself listens.
  await waitLog(b, /http: listening on/);
  const N = 40;
  const cat = sseCat(t, `${a.url}/events/shared`, { n: N, count: 2 });
  await cat.waitOpen();
  // The kernel gave each process some of the 40.
  const held = () => [a, b].map((x) => streamsHeld(x.child.pid, a.port, cat.child.pid));
  await waitFor(() => held()[0] + held()[1] === N, { what: `${N} streams over both processes` });
  assert.ok(held()[0] > 0 && held()[1] > 0, `both processes hold streams: ${held()}`);
  const pub = redis.client();
  // Each process subscribes for its own clients: two subscribers to the channel.
  await waitFor(async () => Number((await pub.pubsub('NUMSUB', 'shared'))[1]) === 2,
    { what: 'both processes subscribed' });
  await pub.publish('shared', 'one');
  await pub.publish('shared', 'two');
  assert.equal((await cat.done()).code, 0);
  for (let i = 0; i < N; i++) {
    assert.deepEqual(cat.eventsOf(i).map((e) => e.data), ['one', 'two'], `connection ${i}`);
  }

  assert.equal((await a.stop()).code, 0);
  const later = sseCat(t, `${b.url}/events/shared`, { n: 5, count: 1 });
  await later.waitOpen();
  await waitFor(async () => Number((await pub.pubsub('NUMSUB', 'shared'))[1]) === 1,
    { what: 'the remaining process subscribed' });
  await pub.publish('shared', 'three');
  assert.equal((await later.done()).code, 0);
  assert.deepEqual(later.events.map((e) => e.data), Array(5).fill('three'));
  assert.equal((await b.stop()).code, 0);
});

test('without reuse_port a second process cannot take the port', async (t) => {
  const redis = await startRedis(t);
  const a = await startBridge(t, { redis, args: ['--journal', '0'] });
  const res = spawnSync(BRIDGE,
    ['--listen', `127.0.0.1:${a.port}`, '--redis', redis.url, '--journal', '0'],
    { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(res.status, 0);
  assert.match(res.stderr + res.stdout, /cannot listen on 127\.0\.0\.1:\d+/);
  assert.equal((await a.stop()).code, 0);
});

// What several processes on one port cannot do is refused before the daemon starts (README,
// reuse_port): with journal_lease = 0 every process would write the journals. (With the lease,
// the default, every route kind is fine: 23_multi.) Each row: the config and the errors
// (file:line: [route] reason), all of them and nothing else.
const journals = 'journals pub/sub or MQTT messages with journal_lease = 0, which several ' +
  'processes on one port cannot do (each would write the journal); set a journal_lease, or ' +
  'journal = 0';
const noLease = '[bridge]\nreuse_port = true\njournal_lease = 0\n';
const refusals = [
  ['a journal_age route',
    `${noLease}\n[route aged]\npath = /aged/{c}\nchannel = aged.{c}\njournal_age = 1h\n`,
    [`bridge.ini:6: [route aged] ${journals}`]], // 6: where the route starts (its first key)
  ['a journal route',
    `${noLease}\n[route kept]\npath = /kept/{c}\nchannel = kept.{c}\njournal = 10\n`,
    [`bridge.ini:6: [route kept] ${journals}`]],
  ['the zero-config built-in routes (journalled by default)', noLease,
    [`(built-in):0: [route channel] ${journals}`, `(built-in):0: [route topics] ${journals}`]],
  ['a journalled MQTT route',
    `${noLease}\n[route m]\npath = /m\nmqtt_topic = m\njournal = 10\n`,
    [`bridge.ini:6: [route m] ${journals}`]],
];

for (const [what, ini, errors] of refusals) {
  test(`reuse_port and journal_lease = 0 with ${what} is refused at start`, () => {
    const dir = tempDir();
    const file = join(dir, 'bridge.ini');
    writeFileSync(file, ini);
    // Started for real (not --check-config): a bridge that wrongly starts runs until the timeout.
    const res = spawnSync(BRIDGE, ['--config', file, '--listen', '127.0.0.1:0',
      '--redis', 'redis://127.0.0.1:1'], { encoding: 'utf8', timeout: 10000 });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(res.status, 1, `exit status (${res.signal ?? 'no signal'}): ${res.stderr}`);
    const lines = res.stderr.trim().split('\n');
    assert.deepEqual(lines, [
      ...errors.map((e) => `sse-bridge: ${e.startsWith('bridge.ini') ? `${dir}/${e}` : e}`),
      `sse-bridge: ${errors.length} configuration error(s); not starting`]);
  });
}

test('reuse_port with the built-in routes and --journal 0 starts', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { config, redis, args: ['--journal', '0'] });
  assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200);
  assert.equal((await bridge.stop()).code, 0);
});
