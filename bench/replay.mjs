// Replay benchmark (issue: replay figures). Starts its own redis-server and sse-bridge on free
// loopback ports (bridge pinned to core 0, clients and Redis to core 1 with taskset), then
// measures:
//   1. one client replaying 10,000 journalled events (Last-Event-ID), request to last event
//      (ssecat's own elapsed_ms: its connect to its last event; the time to start the process
//      is reported apart, as spawn_overhead_ms);
//   2. 1,000 clients reconnecting at once, each replaying 1,000 events, while a live client
//      on another channel receives a timestamped message every 10 ms: total time, and the
//      worst publish-to-arrival latency of those live messages during the storm.
// Medians of RUNS runs (STORM_CLIENTS and STORM_EVENTS change the storm). Writes
// bench/results/replay.json (or $OUT) and prints it.
//   node bench/replay.mjs            (after building build/sse-bridge and build/ssecat)
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { startRedis, startBridge, waitFor, BRIDGE, SSECAT } from '../tests/integration/lib/harness.mjs';

const RUNS = Number(process.env.RUNS || 5);
const STORM = Number(process.env.STORM_CLIENTS || 1000); // clients reconnecting at once
const STORM_EVENTS = Number(process.env.STORM_EVENTS || 1000); // events each replays
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// A stand-in for node:test's context: cleanups run at the end.
const cleanups = [];
const ctx = { after: (fn) => cleanups.push(fn) };

function ssecat(args) {
  const child = spawn('taskset', ['-c', '1', SSECAT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l)));
  const done = new Promise((resolve) => child.on('exit', (code) => resolve({ code, lines })));
  return { child, lines, done };
}

async function fill(pub, channel, n) {
  for (let i = 0; i < n; i += 1000) {
    const p = pub.pipeline();
    for (let k = i; k < Math.min(n, i + 1000); k++) p.publish(channel, JSON.stringify({ seq: k, pad: 'x'.repeat(60) }));
    await p.exec();
  }
}

async function firstId(bridge, channel) {
  const cat = ssecat(['-c', '1', '-t', '10', `${bridge.url}/events/${channel}`]);
  await waitFor(() => cat.lines.length >= 1, { what: 'open' });
  return cat;
}

const redis = await startRedis(ctx);
spawn('taskset', ['-cp', '1', String(redis.child.pid)], { stdio: 'ignore' }); // with the clients, as bench/run.sh
process.env.SSE_BRIDGE_BIN = BRIDGE;
const bridge = await startBridge(ctx, { redis, config: '[bridge]\njournal = 20000\nmax_clients = 5000\n' });
spawn('taskset', ['-cp', '0', String(bridge.child.pid)], { stdio: 'ignore' });
const pub = redis.client();

const single = [];
const spawnOverhead = [];
const storm = [];
const stormLatency = [];
const stormP50 = [];
const stormP99 = [];
const stormWorstAt = [];
const stormCount = [];
for (let run = 0; run < RUNS; run++) {
  // 1. one client, 10,000 events.
  const ch = `replay${run}`;
  const anchor = await firstId(bridge, ch);
  await waitFor(async () => Number((await pub.pubsub('NUMSUB', ch))[1]) === 1, { what: 'subscribed' });
  await fill(pub, ch, 10001);
  const r0 = await anchor.done;
  const from = r0.lines.find((l) => l.event)?.id;
  await waitFor(async () => Number(await pub.xlen(`sse:journal:${ch}`)) >= 10002, { what: 'journalled' });
  let t0 = process.hrtime.bigint();
  const one = await ssecat(['-q', '-c', '10000', '-t', '30', '-H', `Last-Event-ID: ${from}`,
    `${bridge.url}/events/${ch}`]).done;
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (one.code !== 0) throw new Error('single replay incomplete');
  single.push(one.lines.at(-1).elapsed_ms);
  spawnOverhead.push(wall - one.lines.at(-1).elapsed_ms);

  // 2. 1,000 clients at once, 1,000 events each, while a live client measures latency.
  const sch = `storm${run}`;
  const anchor2 = await firstId(bridge, sch);
  await waitFor(async () => Number((await pub.pubsub('NUMSUB', sch))[1]) === 1, { what: 'subscribed' });
  await fill(pub, sch, STORM_EVENTS + 1);
  const from2 = (await anchor2.done).lines.find((l) => l.event)?.id;
  await waitFor(async () => Number(await pub.xlen(`sse:journal:${sch}`)) >= STORM_EVENTS + 2,
    { what: 'journalled' });
  const live = ssecat(['-T', '-t', '60', `${bridge.url}/events/live${run}`]);
  await waitFor(async () => Number((await pub.pubsub('NUMSUB', `live${run}`))[1]) === 1, { what: 'live' });
  let ticking = true;
  const ticker = (async () => {
    while (ticking) {
      await pub.publish(`live${run}`, String(Date.now()));
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  t0 = process.hrtime.bigint();
  const wallStart = Date.now();
  const many = await ssecat(['-q', '-n', String(STORM), '-c', String(STORM_EVENTS), '-t', '60',
    '-H', `Last-Event-ID: ${from2}`,
    `${bridge.url}/events/${sch}`]).done;
  storm.push(many.lines.at(-1).elapsed_ms);
  const wallEnd = Date.now();
  ticking = false;
  await ticker;
  live.child.kill();
  await live.done;
  // Publish-to-arrival latency of the live messages sent during the storm (same clock).
  const during = live.lines.filter((l) => l.event && Number(l.data) >= wallStart && Number(l.data) <= wallEnd);
  const lat = during.map((l) => l.at - Number(l.data)).sort((a, b) => a - b);
  stormLatency.push(lat.at(-1));
  // When in the storm the worst live message was published (ms after the storm began).
  const worst = during.reduce((a, l) => (l.at - Number(l.data) > a.at - Number(a.data) ? l : a));
  stormWorstAt.push(Number(worst.data) - wallStart);
  stormP50.push(lat[Math.floor(lat.length * 0.5)]);
  stormP99.push(lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]);
  stormCount.push(during.length);
  if (many.code !== 0) throw new Error('storm replay incomplete');
}

const result = {
  machine: `${(await import('node:os')).cpus()[0].model}, ${(await import('node:os')).cpus().length} cores`,
  runs: RUNS,
  replay_10k_one_client_ms: { median: median(single), all: single },
  spawn_overhead_ms: { median: median(spawnOverhead), all: spawnOverhead },
  storm: { clients: STORM, events_each: STORM_EVENTS },
  replay_storm_ms: { median: median(storm), all: storm },
  live_max_latency_during_storm_ms: { median: median(stormLatency), all: stormLatency },
  live_p50_latency_during_storm_ms: { median: median(stormP50), all: stormP50 },
  live_p99_latency_during_storm_ms: { median: median(stormP99), all: stormP99 },
  live_worst_published_at_ms: stormWorstAt,
  live_messages_during_storm: stormCount,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(process.env.OUT || 'bench/results/replay.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
for (const fn of cleanups.reverse()) await fn();
process.exit(0);
