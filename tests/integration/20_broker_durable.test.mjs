// The example broker configuration (examples/mosquitto.conf, what docker-compose.yml runs)
// keeps acknowledged QoS 1 messages across a crash: messages queued for a persistent session
// are all there after the broker is killed with SIGKILL and started again. (mosquitto's
// default saves its database every 30 minutes: a crash loses everything since.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { tempDir, freePort, waitFor } from './lib/harness.mjs';

test('examples/mosquitto.conf: queued QoS 1 messages survive a SIGKILL of the broker', async (t) => {
  const dir = tempDir('sse-bridge-durable-');
  chmodSync(dir, 0o777); // mosquitto started as root writes its database as user mosquitto
  const port = await freePort();
  const conf = readFileSync('examples/mosquitto.conf', 'utf8')
    .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
    .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`)
    .replace(/^log_dest stdout$/m, 'log_dest stderr');
  assert.match(conf, new RegExp(`listener ${port}`), 'the example still has its listener line');
  writeFileSync(join(dir, 'mosquitto.conf'), conf);
  let broker = null;
  const start = async () => {
    broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'ignore'] });
    await waitFor(() => new Promise((resolve) => {
      const sock = connect(port, '127.0.0.1', () => { sock.destroy(); resolve(true); });
      sock.on('error', () => resolve(false));
    }), { what: `mosquitto on ${port}` });
  };
  t.after(() => {
    if (broker && broker.exitCode === null) broker.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const sub = (extra) => spawnSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1',
    '-c', '-i', 'durable-test', '-t', 'orders/#', ...extra], { encoding: 'utf8', timeout: 10000 });
  await start();
  // A persistent session subscribes, then goes away: the broker queues for it.
  assert.equal(sub(['-E']).status, 0);
  let lastSent = 0;
  for (let i = 1; i <= 10; i++) {
    lastSent = Date.now();
    const pub = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1',
      '-t', `orders/${i}`, '-m', `m${i}`], { timeout: 10000 });
    assert.equal(pub.status, 0, 'acknowledged by the broker');
  }
  // mosquitto acknowledges before it saves: the crash comes once the save after the last
  // acknowledgement is on disk, as a crash a moment later would find it: the file written
  // after the last publish started, and then left alone for 300 ms (no save still to come).
  const db = join(dir, 'mosquitto.db');
  const mtime = () => (existsSync(db) ? statSync(db).mtimeMs : 0);
  await waitFor(() => mtime() >= lastSent - 5, { timeout: 5000, what: 'a save after the last publish' });
  await waitFor(async () => {
    const m = mtime();
    await new Promise((resolve) => setTimeout(resolve, 300));
    return mtime() === m;
  }, { timeout: 5000, what: 'the last save' });
  broker.kill('SIGKILL');
  await new Promise((resolve) => broker.once('exit', resolve));
  await start();
  const got = sub(['-C', '10', '-W', '5']);
  assert.deepEqual(got.stdout.trim().split('\n'), [...Array(10).keys()].map((i) => `m${i + 1}`));
});
