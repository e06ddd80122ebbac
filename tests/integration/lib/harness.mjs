// Integration-test harness: real redis-server and sse-bridge processes on free loopback ports,
// each in a temporary directory, stopped when the test ends (and killed by PID if the test
// process itself dies). Waits are bounded polls of a condition, never fixed sleeps.
//
// Ports. ctest runs the test files in parallel, so a port picked by freePort() (bound, read,
// released) may be taken by someone else before the server binds it. Hence:
//   - sse-bridge listens on port 0 by default (`--listen 127.0.0.1:0`): the kernel picks a free
//     port at bind time and the bridge logs it (`http: listening on 127.0.0.1:PORT`), which
//     startBridge reads. No window at all.
//   - A restart (bridge.start() again, redis.start(), broker.start()) must come back on the
//     same port: a browser or EventSource reconnects to the URL it has. The port is free while
//     the server is down, and any process may take it meanwhile (an outgoing connection's
//     local port comes from the same ephemeral range), so the start is retried while the bind
//     fails ("cannot listen", "Address already in use"), for up to RESTART_BIND_MS.
//   - redis-server (`--port 0` means no TCP at all) and mosquitto need a port chosen before
//     they start: the first start takes a freePort() and, if the server exits or the port
//     turns out to answer for another server, takes another port (at most PORT_ATTEMPTS).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readlinkSync, writeFileSync, readFileSync, rmSync }
  from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import Redis from 'ioredis';

export const BRIDGE = process.env.SSE_BRIDGE_BIN || 'build/sse-bridge';
export const SSECAT = process.env.SSECAT_BIN || 'build/ssecat';

const children = new Set();
process.on('exit', () => {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export function tempDir(prefix = 'sse-bridge-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

const PORT_ATTEMPTS = 5;
const RESTART_BIND_MS = 15000;

// A port the kernel just handed out and released. Another process may take it before it is
// bound again: prefer port 0 where the server supports it, or check and retry (above).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// `what` names the condition in the timeout's message; a function is called then (so that it
// can say how far things got).
export async function waitFor(condition, { timeout = 10000, interval = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await condition();
      if (last) return last;
    } catch (err) {
      if (err.fatal) throw err; // the condition can never hold (e.g. the process died)
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${typeof what === 'function' ? what() : what}` +
        (last instanceof Error ? `: ${last.message}` : ''));
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

// `exited` resolves on 'close', not 'exit': 'exit' can come before the last of the child's
// stdout has been read, and a test would then look at events not parsed yet.
function track(child) {
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.once('exit', () => children.delete(child));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return child;
}

async function stopChild(child, signal = 'SIGTERM', timeout = 10000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const result = await child.exited;
  clearTimeout(timer);
  return result;
}

// Whether process `pid` holds a listening TCP socket on `port` (its socket descriptors matched
// against the kernel's tables): the server that answers there is ours, not another test's.
export function listensOn(pid, port) {
  const inodes = new Set();
  let fds;
  try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return false; }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(table, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]) &&
        parseInt(f[1].split(':').at(-1), 16) === port) return true;
    }
  }
  return false;
}

const exited = (child) => child.exitCode !== null || child.signalCode !== null;
const fatal = (message) => Object.assign(new Error(message), { fatal: true });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts a server with start(port) until it listens: on the first start another port is taken
// when the bind fails (`bindFailed(error)`), on a restart (`fixed`) the same port is tried
// again until RESTART_BIND_MS have passed. Returns the port.
async function startOnPort(what, port, fixed, start, bindFailed) {
  const deadline = Date.now() + RESTART_BIND_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await start(port);
      return port;
    } catch (err) {
      if (!bindFailed(err)) throw err;
      if (!fixed && attempt < PORT_ATTEMPTS) {
        port = await freePort();
      } else if (fixed && Date.now() < deadline) {
        await pause(200); // the port is someone else's for now: try it again shortly
      } else {
        throw new Error(`${what}: port ${port} stays taken (${attempt} attempts): ${err.message}`);
      }
    }
  }
}

// A real redis-server on a free loopback port. `t` is the node:test context: the server is
// stopped when the test ends, pass or fail. redis.log holds its log lines (all starts).
export async function startRedis(t, { appendonly = false, args = [] } = {}) {
  const dir = tempDir('sse-bridge-redis-');
  const redis = { port: null, dir, url: null, child: null, log: [] };
  const spawnOn = async (port) => {
    const child = track(spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--appendonly', appendonly ? 'yes' : 'no', '--daemonize', 'no', '--protected-mode', 'yes',
      ...args,
    ], { stdio: ['ignore', 'pipe', 'inherit'] }));
    redis.child = child;
    const lines = [];
    createInterface({ input: child.stdout }).on('line', (l) => { lines.push(l); redis.log.push(l); });
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0,
      retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 2000 });
    probe.on('error', () => {});
    try {
      await waitFor(async () => {
        if (exited(child)) {
          await child.exited; // every log line read
          throw fatal(`redis-server on port ${port} exited: ${lines.slice(-5).join(' | ')}`);
        }
        if (!listensOn(child.pid, port)) return false;
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          probe.disconnect();
          return false;
        }
      }, { timeout: 20000, what: `redis-server on port ${port}` });
    } catch (err) {
      await stopChild(child, 'SIGKILL');
      throw err;
    } finally {
      probe.disconnect();
    }
  };
  redis.start = async () => {
    const fixed = redis.port !== null;
    redis.port = await startOnPort('redis-server', fixed ? redis.port : await freePort(), fixed,
      spawnOn, (err) => /exited: .*(Address already in use|bind)/i.test(err.message));
    redis.url = `redis://127.0.0.1:${redis.port}`;
  };
  redis.stop = async (signal = 'SIGTERM') => {
    if (redis.child) await stopChild(redis.child, signal);
  };
  // A publishing client that survives server restarts (it reconnects by itself).
  redis.client = () => {
    const c = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 20,
      retryStrategy: (n) => Math.min(n * 50, 500) });
    c.on('error', () => {});
    t.after(() => c.disconnect());
    return c;
  };
  t.after(async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await redis.start();
  return redis;
}

let bridgeSerial = 0;

// sse-bridge with an optional INI config text; waits until /healthz answers (any status, or
// 200 when `healthy`). stop() sends SIGTERM and returns the exit status, which tests assert
// (under AddressSanitizer a leak makes it non-zero).
// `wrap` runs the bridge under another command that execs it (e.g. ['prlimit', '--nofile=64']).
// It listens on `listen` (default 127.0.0.1 with `port`, default 0: a port the kernel picks,
// read from the bridge's log line `http: listening on HOST:PORT`); `listen: null` passes no
// --listen flag (the environment or the config decides). A restart, bridge.start() again, binds
// the same port (clients reconnect to the URL they have), retrying while it is taken.
// The MQTT client id is pinned per bridge (MQTT_CLIENT_ID), unless the test sets one or says
// `pinMqttClientId: false`: the default id holds the configured listen port, 0 here on the
// first start and the real port on a restart, and a persistent session must survive the
// restart (and two bridges on one broker must not share a session).
export async function startBridge(t, { config = null, args = [], env = {}, redis = null,
  healthy = true, port = 0, listen = undefined, wrap = [], pinMqttClientId = true } = {}) {
  const dir = tempDir('sse-bridge-');
  const extra = [];
  if (redis) extra.push('--redis', redis.url);
  if (config !== null) {
    writeFileSync(join(dir, 'bridge.ini'), config);
    extra.push('--config', join(dir, 'bridge.ini'));
  }
  const pinId = pinMqttClientId && !('MQTT_CLIENT_ID' in env) &&
    !(config !== null && /^\s*client_id\s*=/m.test(config));
  const clientId = `sse-bridge-test-${process.pid}-${++bridgeSerial}`;
  const logFile = join(dir, 'bridge.log');
  const bridge = { port: null, dir, url: null, logFile, child: null, log: [] };
  const spawnOn = async (p) => {
    const listenArg = listen === null ? [] : ['--listen', listen ?? `127.0.0.1:${p}`];
    const [cmd, ...cmdArgs] = [...wrap, BRIDGE, ...listenArg, ...args, ...extra];
    const child = track(spawn(cmd, cmdArgs, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(pinId ? { MQTT_CLIENT_ID: clientId } : {}), ...env },
    }));
    bridge.child = child;
    const from = bridge.log.length; // this start's lines
    const onLine = (line) => {
      bridge.log.push(line);
      if (process.env.BRIDGE_LOG) process.stderr.write(`[bridge ${bridge.port ?? p}] ${line}\n`);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    const died = async () => {
      await child.exited; // every log line read
      return fatal(`bridge exited: ${bridge.log.slice(from).join('\n')}`);
    };
    const bound = await waitFor(async () => {
      if (exited(child)) throw await died();
      for (const line of bridge.log.slice(from)) {
        const m = /http: listening on (\S+):(\d+)$/.exec(line);
        if (m) return (bridge.host = m[1], Number(m[2]));
      }
      return false;
    }, { timeout: 20000, what: 'the bridge to listen' });
    if (bridge.port === null) {
      const h = bridge.host;
      const host = h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h;
      bridge.port = bound;
      bridge.url = `http://${host}:${bound}`;
    } else {
      assert.equal(bound, bridge.port, 'a restarted bridge listens on its port again');
    }
    await waitFor(async () => {
      if (exited(child)) throw await died();
      const res = await fetch(`${bridge.url}/healthz`);
      await res.arrayBuffer();
      return healthy ? res.status === 200 : true;
    }, { timeout: 20000, what: `sse-bridge on port ${bridge.port}` });
  };
  bridge.start = async () => {
    const fixed = bridge.port !== null || port !== 0;
    await startOnPort('sse-bridge', bridge.port ?? port, fixed, spawnOn,
      (err) => /bridge exited: [^]*cannot listen on .*(in use|Address)/i.test(err.message));
  };
  bridge.stop = async (signal = 'SIGTERM') => stopChild(bridge.child, signal);
  bridge.metrics = async () => {
    const text = await (await fetch(`${bridge.url}/metrics`)).text();
    const m = {};
    for (const line of text.split('\n')) {
      const match = /^sse_bridge_(\w+) (\d+)$/.exec(line);
      if (match) m[match[1]] = Number(match[2]);
    }
    return m;
  };
  t.after(async () => {
    if (bridge.child && bridge.child.exitCode === null) await bridge.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await bridge.start();
  return bridge;
}

// Our own C client (tools/ssecat.c), one JSON object per line on stdout.
export function sseCat(t, url, { n = 1, count = null, headers = [], timeout = 30 } = {}) {
  const argv = ['-n', String(n), '-t', String(timeout)];
  if (count !== null) argv.push('-c', String(count));
  for (const h of headers) argv.push('-H', h);
  argv.push(url);
  const child = track(spawn(SSECAT, argv, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const cat = { child, lines: [], events: [], heads: [], closed: [], summary: null };
  createInterface({ input: child.stdout }).on('line', (line) => {
    const obj = JSON.parse(line);
    cat.lines.push(obj);
    if (obj.summary) cat.summary = obj;
    else if (obj.closed) cat.closed.push(obj);
    else if ('status' in obj) cat.heads.push(obj);
    else cat.events.push(obj);
  });
  cat.eventsOf = (conn) => cat.events.filter((e) => e.conn === conn);
  cat.waitEvents = (k, opts = {}) => waitFor(() => cat.events.length >= k,
    { what: () => `${k} events (have ${cat.events.length})`, ...opts });
  cat.waitOpen = (opts = {}) => waitFor(() => cat.heads.length >= n,
    { what: `${n} response heads`, ...opts });
  cat.done = () => child.exited;
  cat.stop = () => stopChild(child, 'SIGTERM');
  t.after(() => stopChild(child, 'SIGKILL'));
  return cat;
}

// Waits until Redis reports exactly these subscribers counts for channels (PUBSUB NUMSUB).
export async function waitSubscribed(client, channel, want, opts = {}) {
  return waitFor(async () => {
    const [, count] = await client.pubsub('NUMSUB', channel);
    return Number(count) === want;
  }, { what: `${want} upstream subscription(s) to ${channel}`, ...opts });
}

export function readLog(bridge) {
  return bridge.log.join('\n');
}

export { readFileSync };

// The raw bytes of a stream, read with fetch (no SSE parsing): for checking the wire format.
// raw.heartbeats holds the arrival time (Date.now()) of each `: heartbeat` comment.
export async function rawStream(t, url, init = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { ...init, signal: ac.signal });
  const raw = { res, text: '', ended: false, heartbeats: [] };
  const decoder = new TextDecoder();
  const beat = ': heartbeat\n\n';
  let scanned = 0;
  (async () => {
    try {
      for await (const chunk of res.body) {
        raw.text += decoder.decode(chunk, { stream: true });
        const now = Date.now();
        for (let at; (at = raw.text.indexOf(beat, scanned)) >= 0;) {
          raw.heartbeats.push(now);
          scanned = at + beat.length;
        }
      }
    } catch { /* aborted */ }
    raw.ended = true;
  })();
  raw.waitFor = (needle, opts = {}) => waitFor(() => raw.text.includes(needle),
    { what: `${JSON.stringify(needle)} in the stream (have ${JSON.stringify(raw.text.slice(-200))})`, ...opts });
  raw.close = () => ac.abort();
  t.after(() => ac.abort());
  return raw;
}

// Sends raw bytes on a fresh TCP connection and returns everything the server answers before
// it closes (or `timeout` ms pass): for requests that fetch would normalise or refuse to send.
// `until(data)`: stop reading as soon as it holds (for answers that never end, such as a
// stream), instead of waiting for the timeout.
export function rawRequest(port, text, { timeout = 5000, until = null } = {}) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(text));
    let data = '';
    sock.on('data', (d) => {
      data += d;
      if (until && until(data)) { sock.destroy(); resolve(data); }
    });
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
    sock.setTimeout(timeout, () => { sock.destroy(); resolve(data); });
  });
}

// Publishes {"seq": n} to a channel (or XADDs it to a stream) every millisecond or so until
// stopped; returns the count sent. For seam tests: clients come and go while it runs.
export function startPublisher(client, { channel = null, stream = null, perTick = 3 } = {}) {
  const pub = { seq: 0, running: true, acked: [] };
  pub.done = (async () => {
    while (pub.running) {
      const batch = client.pipeline();
      for (let i = 0; i < perTick; i++) {
        const msg = JSON.stringify({ seq: pub.seq++ });
        if (stream) batch.xadd(stream, '*', 'data', msg);
        else batch.publish(channel, msg);
      }
      const results = await batch.exec();
      for (const [err, res] of results) if (!err && stream) pub.acked.push(res);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  pub.stop = async () => { pub.running = false; await pub.done; return pub.seq; };
  return pub;
}

// Asserts that a list of {seq} payloads is exactly first..first+n-1: none missing, none twice.
export function seqsOf(events) {
  return events.filter((e) => e.event !== 'gap').map((e) => JSON.parse(e.data).seq);
}

// A real mosquitto broker on a free loopback port, with its own config in a temporary
// directory; stopped when the test ends. `persistence` keeps sessions and queued QoS 1
// messages across a clean broker restart. pub() publishes with mosquitto_pub. broker.log
// holds what it writes to stderr (errors only, unless `logType` says more, e.g. 'notice'),
// which is also passed on to the test's stderr.
export async function startMosquitto(t, { persistence = false, tls = null, logType = 'error' } = {}) {
  const dir = tempDir('sse-bridge-mqtt-');
  const broker = { port: null, dir, url: null, child: null, log: [] };
  const writeConf = (port) => writeFileSync(join(dir, 'mosquitto.conf'), [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    ...(tls ? [`cafile ${tls.ca}`, `certfile ${tls.serverCert}`, `keyfile ${tls.serverKey}`,
      'require_certificate true'] : []),
    `persistence ${persistence ? 'true' : 'false'}`,
    `persistence_location ${dir}/`,
    'log_dest stderr',
    `log_type ${logType}`,
    '',
  ].join('\n'));
  const spawnOn = async (port) => {
    writeConf(port);
    const child = track(spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')],
      { stdio: ['ignore', 'ignore', 'pipe'] }));
    broker.child = child;
    const lines = [];
    createInterface({ input: child.stderr }).on('line', (l) => {
      lines.push(l);
      broker.log.push(l);
      if (logType === 'error' || process.env.BROKER_LOG) process.stderr.write(`[mosquitto ${port}] ${l}\n`);
    });
    try {
      await waitFor(async () => {
        if (exited(child)) {
          await child.exited;
          throw fatal(`mosquitto on port ${port} exited: ${lines.slice(-3).join(' | ')}`);
        }
        return listensOn(child.pid, port);
      }, { timeout: 20000, what: `mosquitto on port ${port}` });
    } catch (err) {
      await stopChild(child, 'SIGKILL');
      throw err;
    }
  };
  broker.start = async () => {
    const fixed = broker.port !== null;
    broker.port = await startOnPort('mosquitto', fixed ? broker.port : await freePort(), fixed,
      spawnOn, (err) => /exited: .*(in use|bind)/i.test(err.message));
    broker.url = `mqtt://127.0.0.1:${broker.port}`;
  };
  broker.stop = async (signal = 'SIGTERM') => {
    if (broker.child) await stopChild(broker.child, signal);
  };
  // Publishes one message (a string or a Buffer); resolves once mosquitto_pub has sent it
  // (QoS 1: acknowledged by the broker). props: MQTT 5 user properties {name: value}.
  broker.pub = (topic, message, { qos = 1, retain = false, props = {}, port: p = broker.port } = {}) =>
    new Promise((resolve, reject) => {
      const argv = ['-h', '127.0.0.1', '-p', String(p), '-q', String(qos), '-t', topic, '-s'];
      if (tls) argv.push('--cafile', tls.ca, '--cert', tls.clientCert, '--key', tls.clientKey);
      if (retain) argv.push('-r');
      const entries = Object.entries(props);
      if (entries.length) {
        argv.push('-V', '5');
        for (const [k, v] of entries) argv.push('-D', 'publish', 'user-property', k, v);
      }
      const child = spawn('mosquitto_pub', argv, { stdio: ['pipe', 'ignore', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}`))));
      child.stdin.end(message);
    });
  t.after(async () => {
    await broker.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await broker.start();
  return broker;
}

// A TCP relay on a loopback port of its own to `target`: cut() drops every connection through it
// and refuses new ones until mend(), so a test can take the network away from one party.
export async function startRelay(t, target) {
  const sockets = new Set();
  const relay = { port: null, up: true };
  const server = createServer((client) => {
    if (!relay.up) { client.destroy(); return; }
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  // Port 0: the kernel picks a free port at bind time (the relay never binds again).
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = server.address().port;
  relay.cut = () => {
    relay.up = false;
    for (const s of sockets) s.destroy();
  };
  relay.mend = () => { relay.up = true; };
  t.after(() => { relay.cut(); server.close(); });
  return relay;
}

// Waits for a line of the bridge's log (start it with --log-level debug for debug lines).
export async function waitLog(bridge, pattern, opts = {}) {
  return waitFor(() => bridge.log.some((line) => pattern.test(line)),
    { what: `a log line matching ${pattern}`, ...opts });
}

// A throwaway certificate authority, a server certificate for 127.0.0.1 and a client
// certificate, made with openssl in a temporary directory (removed when the test ends).
// Readable by all: mosquitto drops root privileges before it reads them.
export function makeCertificates(t) {
  const dir = tempDir('sse-bridge-tls-');
  const run = (...args) => {
    const r = spawnSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '2', '-subj', '/CN=sse-bridge test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn, ext] of [['server', '127.0.0.1', ['-extfile', 'server.ext']], ['client', 'bridge', []]]) {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`,
      '-subj', `/CN=${cn}`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
      '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...ext);
  }
  chmodSync(dir, 0o755);
  for (const f of ['ca.key', 'server.key', 'client.key']) chmodSync(join(dir, f), 0o644);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, ca: join(dir, 'ca.crt'), serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'), clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key') };
}

// The demo publisher (examples/publisher.sh) against our servers; stopped (by PID) when the
// test ends.
export function startDemoPublisher(t, redis, broker) {
  const child = track(spawn('examples/publisher.sh', [String(redis.port), '0', String(broker.port)],
    { stdio: ['ignore', 'ignore', 'inherit'] }));
  t.after(() => stopChild(child));
  return child;
}

// Headless Debian Chromium driven by playwright-core (no browser download). Closed when the
// test ends.
export async function startBrowser(t) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-default-apps', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  t.after(() => browser.close());
  return browser;
}
