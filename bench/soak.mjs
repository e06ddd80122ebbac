// The long abuse runs, too long for the test suite (tests/integration/19_abuse has the short
// ones): writes its figures to bench/results/soak.json.
//   node bench/soak.mjs churn [cycles]     connect/stream/close cycles (default 100,000): the
//                                          bridge's descriptors and RSS before and after
//   node bench/soak.mjs soak [seconds]     (default 600) a stream route, a journalled channel
//                                          and a journalled MQTT route under load, read by
//                                          npm eventsource clients that resume with
//                                          Last-Event-ID, while Redis (SIGKILL, AOF) and the
//                                          broker (SIGKILL) are restarted every minute in
//                                          turn; every event counted
// Servers on loopback ports of their own, everything stopped at the end (or on failure).
import { connect } from 'node:net';
import { appendFileSync, chmodSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { EventSource } from 'eventsource';
import { startRedis, startBridge, startMosquitto, waitFor } from '../tests/integration/lib/harness.mjs';

const cleanups = [];
const t = { after: (fn) => cleanups.push(fn) };
async function cleanup() {
  for (const fn of cleanups.reverse()) {
    try { await fn(); } catch { /* already gone */ }
  }
}

const fdCount = (pid) => readdirSync(`/proc/${pid}/fd`).length;
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

function churnOnce(port, how) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.on('close', resolve);
    sock.setTimeout(5000, () => sock.destroy());
    sock.on('connect', () => {
      if (how === 'silent') return sock.destroy();
      if (how === 'partial') { sock.write('GET /events/churn HTTP/1.1\r\nHo'); return setImmediate(() => sock.destroy()); }
      sock.write('GET /events/churn HTTP/1.1\r\nHost: x\r\n\r\n');
      sock.once('data', () => (how === 'rst' ? sock.resetAndDestroy() : sock.end()));
    });
  });
}

async function churn(cycles) {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config: '[bridge]\nrequest_timeout = 1s\n' });
  const pid = bridge.child.pid;
  const ways = ['fin', 'rst', 'partial', 'silent'];
  const run = async (n) => {
    for (let i = 0; i < n; i += 100) {
      await Promise.all([...Array(Math.min(100, n - i)).keys()].map((k) => churnOnce(bridge.port, ways[(i + k) % 4])));
    }
  };
  await run(1000);
  await waitFor(async () => (await bridge.metrics()).connections_pending === 0, { timeout: 15000 });
  const before = { fds: fdCount(pid), rss_kib: rssKiB(pid) };
  const start = Date.now();
  await run(cycles);
  const seconds = (Date.now() - start) / 1000;
  await waitFor(async () => { const m = await bridge.metrics(); return m.clients === 0 && m.connections_pending === 0; },
    { timeout: 15000, what: 'every connection gone' });
  const after = { fds: fdCount(pid), rss_kib: rssKiB(pid) };
  const m = await bridge.metrics();
  return { cycles, seconds, cycles_per_s: Math.round(cycles / seconds), before, after,
    streams_total: m.clients_total, timed_out: m.connections_timed_out_total,
    exit_code: (await bridge.stop()).code };
}

// One EventSource that counts what it receives: by event id (the bridge's duplicates), by the
// payload's `n` (what the publisher sent; a publish that ioredis retried after a reconnect
// counts once there), and the gaps.
function reader(url, key) {
  const r = { seen: new Map(), ids: new Set(), dups: 0, gaps: [], errors: 0 };
  const es = new EventSource(url);
  const count = (data, id) => {
    if (id && r.ids.has(id)) r.dups++;
    if (id) r.ids.add(id);
    r.seen.set(JSON.parse(data)[key], true);
  };
  es.addEventListener('message', (e) => count(e.data, e.lastEventId));
  es.addEventListener('gap', (e) => r.gaps.push(JSON.parse(e.data).reason));
  es.onerror = () => { r.errors++; };
  r.close = () => es.close();
  t.after(() => es.close());
  return r;
}

async function soak(seconds) {
  const redis = await startRedis(t, { appendonly: true, args: ['--appendfsync', 'always'] });
  const broker = await startMosquitto(t, { persistence: true });
  // Durable as README asks of a broker (examples/mosquitto.conf): saved on every change.
  // (mosquitto started as root writes its database as user mosquitto: the directory must let it)
  appendFileSync(`${broker.dir}/mosquitto.conf`, 'autosave_on_changes true\nautosave_interval 1\n');
  chmodSync(broker.dir, 0o777);
  await broker.stop();
  await broker.start();
  const bridge = await startBridge(t, { redis, args: ['--mqtt', broker.url], config: `
[bridge]
retry = 200ms
[mqtt]
client_id = soak-bridge
keepalive = 5s
[route stream]
path = /stream
stream = soak:stream
[route chan]
path = /chan
channel = soak.chan
journal = 100000
[route mqtt]
path = /mqtt
mqtt_topic = soak/mqtt
journal = 100000
static = true
` });
  const readers = {
    stream: reader(`${bridge.url}/stream`, 'n'),
    chan: reader(`${bridge.url}/chan`, 'n'),
    mqtt: reader(`${bridge.url}/mqtt`, 'n'),
  };
  await new Promise((r) => setTimeout(r, 1000));
  const pub = redis.client();
  const sent = { stream: [], chan: 0, chan_ok: [], mqtt: [] };
  let running = true;
  let n = 0;
  const publishers = (async () => {
    while (running) {
      n++;
      const msg = JSON.stringify({ n });
      // Acknowledged writes only count as sent: during a restart a publish may fail.
      try { await pub.xadd('soak:stream', '*', 'data', msg); sent.stream.push(n); } catch { /* Redis away */ }
      try { if (await pub.publish('soak.chan', msg) > 0) sent.chan_ok.push(n); sent.chan++; } catch { /* away */ }
      if (n % 2 === 0) {
        try { await broker.pub('soak/mqtt', msg); sent.mqtt.push(n); } catch { /* broker away */ }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const restarts = [];
  const start = Date.now();
  for (let minute = 1; Date.now() - start < seconds * 1000; minute++) {
    await new Promise((r) => setTimeout(r, Math.min(60000, seconds * 1000 - (Date.now() - start))));
    if (Date.now() - start >= seconds * 1000) break;
    const which = minute % 2 ? 'redis' : 'broker';
    const server = which === 'redis' ? redis : broker;
    await server.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    await server.start();
    restarts.push({ at_s: Math.round((Date.now() - start) / 1000), which });
  }
  running = false;
  await publishers;
  // Let everything in flight arrive.
  await new Promise((r) => setTimeout(r, 5000));
  for (const r of Object.values(readers)) r.close();
  const missing = (list, r) => list.filter((v) => !r.seen.has(v)).length;
  const m = await bridge.metrics();
  return {
    seconds, restarts,
    stream: { acknowledged: sent.stream.length, received: readers.stream.seen.size,
      missing: missing(sent.stream, readers.stream), duplicates: readers.stream.dups, gaps: readers.stream.gaps },
    channel: { published: sent.chan, with_subscriber: sent.chan_ok.length, received: readers.chan.seen.size,
      duplicates: readers.chan.dups, gaps: readers.chan.gaps },
    mqtt: { acknowledged: sent.mqtt.length, received: readers.mqtt.seen.size,
      missing: missing(sent.mqtt, readers.mqtt), duplicates: readers.mqtt.dups, gaps: readers.mqtt.gaps },
    reconnects: { redis: m.redis_reconnects_total, mqtt: m.mqtt_reconnects_total },
    mqtt_redeliveries_dropped: m.mqtt_redeliveries_dropped_total,
    bridge_exit_code: (await bridge.stop()).code,
  };
}

const [mode = 'churn', arg] = process.argv.slice(2);
let result;
try {
  result = mode === 'soak' ? await soak(Number(arg || 600)) : await churn(Number(arg || 100000));
  result = { mode, date: new Date().toISOString(), ...result };
  mkdirSync('bench/results', { recursive: true });
  let all = {};
  try { all = JSON.parse(readFileSync('bench/results/soak.json', 'utf8')); } catch { /* first run */ }
  all[mode] = result;
  writeFileSync('bench/results/soak.json', `${JSON.stringify(all, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await cleanup();
}
process.exit(0);
