// workers = 2 (README: Running several bridges): two processes on one port, connections spread
// over both, /metrics shows both (labelled) from either; a worker SIGKILLed is replaced; a
// client reconnecting with Last-Event-ID under publishing gets no gap and no duplicate whichever
// worker takes it, each message journalled once; SIGTERM drains both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startRedis, startBridge, sseCat, waitFor, waitSubscribed } from './lib/harness.mjs';

// A long probe timeout: under a loaded CI machine a starved probe would reset every connection,
// and what is published meanwhile is lost (gap events), which is not what this test is about.
const config = '[bridge]\nworkers = 2\nretry = 100ms\njournal_lease = 2s\nredis_probe_timeout = 10s\n' +
  'journal = 100000\n'; // a slow run publishes more than 1,000 before the check reads the journal

function workerPids(bridge) {
  const pid = bridge.child.pid;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)
    .filter(Boolean).map(Number);
}

// {worker: value} of one metric in a workers' /metrics text.
async function perWorker(bridge, name) {
  const text = await (await fetch(`${bridge.url}/metrics`)).text();
  const out = {};
  for (const m of text.matchAll(new RegExp(`^sse_bridge_${name}\\{worker="(\\d+)"\\} (\\d+)$`, 'gm')))
    out[m[1]] = Number(m[2]);
  return out;
}

test('workers = 2: connections on both, a worker killed is replaced, resuming is exact, SIGTERM drains both', async (t) => {
  const redis = await startRedis(t);
  const pub = redis.client();
  const bridge = await startBridge(t, { redis, config });
  await waitFor(() => workerPids(bridge).length === 2, { what: 'two workers' });
  await waitFor(async () => Object.keys(await perWorker(bridge, 'clients')).length === 2,
    { what: 'both workers in /metrics' });

  const cats = sseCat(t, `${bridge.url}/events/w`, { n: 40, timeout: 60 });
  await cats.waitOpen();
  await waitFor(async () => {
    const c = await perWorker(bridge, 'clients');
    return c['1'] + c['2'] === 40;
  }, { what: '40 clients counted', timeout: 5000 });
  const clients = await perWorker(bridge, 'clients');
  assert.ok(clients['1'] > 0 && clients['2'] > 0, `both workers have clients: ${JSON.stringify(clients)}`);
  await waitSubscribed(pub, 'w', 2);

  // One worker killed: replaced, on the same port; the other's clients stay.
  const [victim] = workerPids(bridge);
  process.kill(victim, 'SIGKILL');
  await waitFor(() => { const p = workerPids(bridge); return p.length === 2 && !p.includes(victim); },
    { what: 'the worker replaced', timeout: 5000 });
  await waitFor(() => bridge.log.some((l) => /workers: worker \d \(pid \d+\) was killed by signal 9; restarting it/.test(l)),
    { what: 'the restart logged' });
  assert.ok(cats.closed.length > 0 && cats.closed.length < 40, `${cats.closed.length} of 40 cut with the worker`);
  await waitSubscribed(pub, 'w', 1); // the new worker has no client yet
  // If the killed worker wrote the journal, its replacement (the same identity) or the other
  // worker goes on writing it with a gap marker: publishing for longer than the lease settles
  // that before the hopping client comes (fresh at first, so older markers are no news to it).
  const settle = Date.now() + 2500;
  for (let i = 0; Date.now() < settle; i++) {
    await pub.publish('w', JSON.stringify({ warm: i }));
    await new Promise((r) => setTimeout(r, 20));
  }

  // A client hopping over new connections (either worker) under publishing.
  let seq = 0;
  let running = true;
  const pubDone = (async () => {
    while (running) {
      const body = JSON.stringify({ seq: seq++ });
      if (seq % 2) await pub.publish('w', body);
      else await pub.call('FCALL', 'sse_publish', '1', 'w', body);
      await new Promise((r) => setTimeout(r, 3));
    }
  })();
  const got = [];
  let last = null;
  for (let hop = 0; hop < 20; hop++) {
    const headers = last ? [`Last-Event-ID: ${last}`] : [];
    const hopCat = sseCat(t, `${bridge.url}/events/w`, { count: 5, headers, timeout: 20 });
    assert.equal((await hopCat.done()).code, 0, `hop ${hop}`);
    got.push(...hopCat.events);
    last = hopCat.events.at(-1).id;
  }
  running = false;
  await pubDone;
  assert.deepEqual(got.filter((e) => e.event === 'gap'), [], 'no gap event');
  const s = got.map((e) => JSON.parse(e.data).seq).filter((x) => x !== undefined);
  assert.equal(new Set(s).size, 100, 'no duplicate');
  const entries = await pub.xrange('sse:journal:w', '-', '+');
  const journalled = entries.filter(([, f]) => f[0] === 'c').map(([, f]) => JSON.parse(f[3]).seq)
    .filter((x) => x !== undefined); // not the warm-up messages
  assert.equal(new Set(journalled).size, journalled.length, 'each message journalled once');
  const inJournal = journalled.filter((x) => x >= s[0] && x <= s.at(-1));
  assert.deepEqual(s, inJournal, 'exactly the journal, in its order');

  // SIGTERM: both drain (the close event to every client), the supervisor exits 0.
  const open = cats.heads.length - cats.closed.length;
  const stopped = await bridge.stop();
  assert.equal(stopped.code, 0);
  await waitFor(() => cats.closed.length === cats.heads.length, { what: 'every stream closed' });
  assert.ok(cats.events.filter((e) => e.event === 'close').length >= open, 'the close event to each open stream');
  assert.ok(bridge.log.some((l) => l.includes('workers: all 2 stopped')));
});
