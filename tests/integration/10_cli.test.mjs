// The command line: --help, --version, --check-config with file:line errors, environment
// overrides, and refusing to start on a bad configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BRIDGE, tempDir, startRedis, startBridge } from './lib/harness.mjs';

function run(args, env = {}) {
  const r = spawnSync(BRIDGE, args, { encoding: 'utf8', timeout: 10000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('--help and --version', () => {
  const help = run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--config FILE/);
  assert.match(
    run(['--version']).out,
    /^sse-bridge \d+\.\d+\.\d+\nlibevent 2\.\d+\.\d+[-a-z]*, hiredis \d+\.\d+\.\d+, libmosquitto 2\.\d+\.\d+, jansson 2\.\d+(\.\d+)?\n$/,
  );
  const bad = run(['--no-such-flag']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /usage:/);
});

test('--check-config accepts a good file and reports every error of a bad one', () => {
  const dir = tempDir();
  const good = join(dir, 'good.ini');
  writeFileSync(good, '[bridge]\nlisten = 127.0.0.1:9000\n\n[route a]\npath = /a/{x}\nchannel = a.{x}\n');
  const ok = run(['--config', good, '--check-config']);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /OK \(1 route/);

  const bad = join(dir, 'bad.ini');
  writeFileSync(bad, [
    '[bridge]',
    'heartbeat = 15', // 2: no unit
    'max_clients = lots', // 3
    'colour = blue', // 4
    '[route a]',
    'path = a/{x}', // 6
    'channel = a.{y}', // 7: fine alone
    'event = jsn:type', // 8
    '[nonsense]', // 9
    'k = v', // 10
  ].join('\n') + '\n');
  const r = run(['--config', bad, '--check-config']);
  assert.equal(r.code, 1);
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  for (const [line, what] of [
    [2, '[bridge] heartbeat = 15: expected a duration'],
    [3, '[bridge] max_clients = lots: expected a whole number'],
    [4, '[bridge] colour = blue: unknown setting'],
    [6, '[route a] path = a/{x}: a path starts with /'],
    [8, '[route a] event = jsn:type: expected none, fixed:NAME'],
    [10, 'unknown section [nonsense]']]) {
    assert.match(r.err, new RegExp(`^sse-bridge: ${escape(bad)}:${line}: ${escape(what)}`, 'm'),
      `line ${line} reported:\n${r.err}`);
  }
  assert.match(r.err, /\[route a\] has no path/);

  // Limits that contradict each other: a message that cannot fit half a client buffer.
  const tight = join(dir, 'tight.ini');
  writeFileSync(tight, '[bridge]\nclient_buffer = 64KiB\nmax_message_size = 64KiB\n');
  const t2 = run(['--config', tight, '--check-config']);
  assert.equal(t2.code, 1);
  assert.match(t2.err, /client_buffer must be at least twice max_message_size/);
  assert.match(r.err, /not starting/);
});

test('environment overrides and flags; bad values refuse to start', async (t) => {
  const redis = await startRedis(t);
  const viaEnv = run(['--check-config'], { LISTEN: '127.0.0.1:0', REDIS_URL: redis.url });
  assert.equal(viaEnv.code, 0, viaEnv.err);
  const badEnv = run(['--check-config'], { REDIS_URL: 'http://nope' });
  assert.equal(badEnv.code, 1);
  assert.match(badEnv.err, /REDIS_URL=http:\/\/nope/);
  const badFlag = run(['--check-config', '--listen', 'here:99999']);
  assert.equal(badFlag.code, 1);
  assert.match(badFlag.err, /--listen here:99999/);
  // LISTEN is read, not only checked: a bad one refuses to start too.
  const badListen = run(['--check-config'], { LISTEN: 'here:99999' });
  assert.equal(badListen.code, 1);
  assert.match(badListen.err, /LISTEN=here:99999/);
  // LISTEN from the environment is where the daemon really listens (no --listen flag; without
  // LISTEN it would be the default 0.0.0.0:8080). Port 0: the kernel's pick, as it logs it.
  const viaListen = await startBridge(t, { redis, listen: null, env: { LISTEN: '127.0.0.1:0' } });
  assert.equal(viaListen.host, '127.0.0.1', 'the host LISTEN names');
  assert.notEqual(viaListen.port, 8080);
  assert.equal((await fetch(`${viaListen.url}/healthz`)).status, 200);
  // LISTEN from the config file is overridden by LISTEN from the environment...
  const viaBoth = await startBridge(t, { redis, listen: null, env: { LISTEN: '127.0.0.1:0' },
    config: '[bridge]\nlisten = 127.0.0.2:1\n' });
  assert.equal(viaBoth.host, '127.0.0.1', 'the environment wins over the config file');
  // ...and the --listen flag wins over LISTEN: the bridge is not on port 1, where LISTEN says.
  const viaFlag = await startBridge(t, { redis, env: { LISTEN: '127.0.0.1:1' } });
  assert.notEqual(viaFlag.port, 1);
  assert.equal((await fetch(`${viaFlag.url}/healthz`)).status, 200, 'the --listen flag wins over LISTEN');
});
