// An idle bridge sleeps: a zero-config bridge with no client at all wakes at most twice a
// second (counted as epoll_wait calls by strace over 5 s). A timer that fires with nothing to
// do (the replay pacing used to run every 10 ms for ever: 124 wake-ups a second) fails this.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startRedis, startBridge } from './lib/harness.mjs';

test('an idle zero-config bridge wakes at most twice a second', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  await new Promise((r) => setTimeout(r, 500)); // past the start-up work
  const out = spawnSync('timeout', ['-s', 'INT', '5', 'strace', '-c', '-f', '-e', 'trace=epoll_wait',
    '-p', String(bridge.child.pid)], { encoding: 'utf8', timeout: 15000 });
  // The summary's row: % time, seconds, usecs/call, calls, [errors], syscall.
  const row = out.stderr.split('\n').find((l) => /\sepoll_wait$/.test(l));
  assert.ok(row, `strace counted: ${out.stderr}`);
  const wakeups = Number(row.trim().split(/\s+/)[3]);
  assert.ok(wakeups <= 10, `${wakeups} wake-ups in 5 s`);
});
