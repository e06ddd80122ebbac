// The README's demo command works: scripts/demo.sh starts Redis, mosquitto, the bridge and the
// publisher, and the stream it shows carries the publisher's events from both; Ctrl-C (or the
// end of --seconds) stops everything it started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { BRIDGE, freePort, waitFor } from './lib/harness.mjs';

// Whether anything accepts connections on a loopback port.
const answers = (port) => new Promise((resolve) => {
  const sock = connect(port, '127.0.0.1', () => { sock.destroy(); resolve(true); });
  sock.on('error', () => resolve(false));
});

// Runs scripts/demo.sh in a process group of its own (so that a Ctrl-C can be sent to all of
// it, as a terminal does, and whatever is left is killed when the test ends), and waits until
// it says it is running. The demo's HTTP port is chosen before it starts (it has no port 0);
// if another process took it meanwhile, the bridge cannot listen and another port is tried.
async function startDemo(t, args) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn('scripts/demo.sh', args, {
      env: { ...process.env, DEMO_NO_INSTALL: '1', DEMO_PORT: String(port), SSE_BRIDGE_BIN: BRIDGE },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const demo = { port, child, out: '', err: '', code: null, signal: null };
    demo.exited = new Promise((resolve) => child.on('close', (code, signal) => {
      Object.assign(demo, { code, signal });
      resolve(demo);
    }));
    t.after(() => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* the group is gone */ }
    });
    child.stdout.on('data', (d) => { demo.out += d; });
    child.stderr.on('data', (d) => { demo.err += d; });
    await waitFor(() => demo.code !== null || demo.signal !== null ||
      /sse-bridge demo is running/.test(demo.err), { timeout: 60000, what: 'the demo to start' });
    if (demo.code !== null && /cannot listen/.test(demo.err) && attempt < 5) continue;
    assert.match(demo.err, /sse-bridge demo is running/, demo.err);
    const m = /Redis on 127\.0\.0\.1:(\d+), MQTT on 127\.0\.0\.1:(\d+)/.exec(demo.err);
    assert.ok(m, demo.err);
    demo.redisPort = Number(m[1]);
    demo.mqttPort = Number(m[2]);
    return demo;
  }
}

const ticksIn = (out) => out.match(/^event: ticks\.eu\ndata: \{"type":"tick","seq":\d+,/gm) || [];
const readingsIn = (out) =>
  out.match(/^event: sensors\/(kitchen|hall)\/temperature\ndata: \{"celsius":[\d.]+,"seq":\d+\}$/gm) || [];

async function assertAllGone(demo) {
  // Everything the demo started is gone: nothing answers on its ports any more.
  await assert.rejects(fetch(`http://127.0.0.1:${demo.port}/healthz`));
  assert.equal(await answers(demo.redisPort), false, 'its redis-server stopped');
  assert.equal(await answers(demo.mqttPort), false, 'its mosquitto stopped');
}

test('scripts/demo.sh shows live events from Redis and MQTT; Ctrl-C stops everything', async (t) => {
  const demo = await startDemo(t, []);
  // The publisher ticks every 0.5 s and sends readings every second; on a loaded machine it
  // is slower, so wait for the events rather than for a time.
  await waitFor(() => ticksIn(demo.out).length >= 3 && readingsIn(demo.out).length >= 2,
    { timeout: 60000, what: `3 ticks and 2 MQTT readings (have ${ticksIn(demo.out).length} and ${
      readingsIn(demo.out).length})` });
  assert.ok(demo.out.startsWith('retry: 2000\n\n'), demo.out.slice(0, 200));
  // The same stream carries the MQTT readings (published every second).
  assert.ok(ticksIn(demo.out).length >= 3, `ticks seen: ${ticksIn(demo.out).length}\n${demo.out}`);
  assert.ok(readingsIn(demo.out).length >= 2, `MQTT readings seen: ${readingsIn(demo.out).length}\n${demo.out}`);
  // The protected route, with the token the demo printed: ticks.us streams; no token, 401;
  // the same token for another market, 403.
  const tm = /curl -N -H 'Authorization: Bearer ([\w.-]+)' (http:\S+\/private\/ticks\/us)/.exec(demo.err);
  assert.ok(tm, demo.err);
  const [, token, privateUrl] = tm;
  assert.equal((await fetch(privateUrl)).status, 401);
  assert.equal((await fetch(privateUrl.replace(/us$/, 'eu'), { headers: { Authorization: `Bearer ${token}` } })).status, 403);
  const ac = new AbortController();
  const res = await fetch(privateUrl, { headers: { Cookie: `sse_token=${token}` }, signal: ac.signal });
  assert.equal(res.status, 200);
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    text += decoder.decode(chunk, { stream: true });
    if (/^event: tick\nid: \d+\ndata: /m.test(text)) break;
  }
  ac.abort();
  assert.match(text, /^event: tick\nid: \d+\ndata: /m, 'a tick for us through the protected route');
  process.kill(-demo.child.pid, 'SIGINT'); // Ctrl-C in its terminal
  await demo.exited;
  assert.equal(demo.code, 130, `exit status after Ctrl-C (${demo.signal})\n${demo.err}`);
  await assertAllGone(demo);
});

test('scripts/demo.sh --seconds N shows the stream for N seconds, exits 0 and cleans up', async (t) => {
  const demo = await startDemo(t, ['--seconds', '3']);
  await waitFor(() => demo.code !== null || demo.signal !== null,
    { timeout: 30000, what: 'the demo to end by itself' });
  assert.equal(demo.code, 0, demo.err);
  assert.ok(demo.out.startsWith('retry: 2000\n\n'), `the stream was shown: ${demo.out.slice(0, 200)}`);
  await assertAllGone(demo);
});
