// The README's demo command works: scripts/demo.sh starts Redis, mosquitto, the bridge and the
// publisher, and the stream it shows carries the publisher's events from both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BRIDGE, freePort } from './lib/harness.mjs';

test('scripts/demo.sh shows live events and cleans up', async (t) => {
  const port = await freePort();
  const child = spawn('scripts/demo.sh', ['--seconds', '4'], {
    env: { ...process.env, DEMO_NO_INSTALL: '1', DEMO_PORT: String(port), SSE_BRIDGE_BIN: BRIDGE },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, err);
  assert.match(err, /sse-bridge demo is running/);
  const ticks = out.match(/^event: ticks\.eu\ndata: \{"type":"tick","seq":\d+,/gm) || [];
  assert.ok(ticks.length >= 3, `ticks seen: ${ticks.length}\n${out}`);
  // The same stream carries the MQTT readings (published every second).
  const sensors = out.match(/^event: sensors\/(kitchen|hall)\/temperature\ndata: \{"celsius":[\d.]+,"seq":\d+\}$/gm) || [];
  assert.ok(sensors.length >= 2, `MQTT readings seen: ${sensors.length}\n${out}`);
  // Everything the demo started is gone: nothing answers on its port any more.
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
});
