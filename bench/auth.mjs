// Connections accepted per second on a stream route with auth = jwt (HS256 and RS256 tokens)
// against the same route with no auth: each connection sends its request with a token, waits
// for the 200 head and closes. The token is checked once per connection, never per message,
// so this is all authorization costs. The bridge (default settings otherwise) on core 0, this
// generator on core 1; CONCURRENCY connections at a time for SECONDS per run, ROUNDS rounds
// alternating the three; medians to bench/results/auth.json, with the generator's CPU and the
// bridge's (CPU microseconds per connection: what the figure is when the generator saturates).
//   node bench/auth.mjs [path/to/sse-bridge]
import { spawn, execFileSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { SignJWT, generateKeyPair, exportSPKI } from 'jose';

const BRIDGE = process.argv[2] ?? 'build/sse-bridge';
const SECONDS = Number(process.env.SECONDS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const SECRET = 'a-secret-of-at-least-32-bytes-for-hs256!';

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const dir = mkdtempSync(join(tmpdir(), 'sse-bridge-auth-bench-'));
const procs = [];
process.on('exit', () => { for (const p of procs) p.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });

async function start(name, auth) {
  const port = await freePort();
  const ini = join(dir, `${name}.ini`);
  writeFileSync(ini, `[bridge]\nmax_clients = 100000\n[auth]\n${auth}\n[route r]\npath = /r/{x}\nchannel = r.{x}\n` +
    `auth = ${name === 'none' ? 'none' : 'jwt'}\n`);
  const p = spawn('taskset', ['-c', '0', BRIDGE, '-c', ini, '--listen', `127.0.0.1:${port}`,
    '--redis', `redis://127.0.0.1:${redisPort}`, '--log-level', 'warn'], { stdio: 'ignore' });
  procs.push(p);
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return { p, port }; } catch { /* not yet */ }
    await sleep(25);
  }
  throw new Error(`${name}: the bridge did not start`);
}

// One connection: request, 200 head, close. Resolves true on a 200.
const once = (port, request) => new Promise((resolve) => {
  const s = connect(port, '127.0.0.1', () => s.write(request));
  s.once('data', (d) => { resolve(d.toString('latin1', 0, 12) === 'HTTP/1.1 200'); s.destroy(); });
  s.on('error', () => resolve(false));
});

// CPU seconds the process has used (utime + stime, /proc/PID/stat).
import { readFileSync } from 'node:fs';
const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // clock ticks (USER_HZ 100)
};

async function measure(port, token, pid) {
  const request = `GET /r/1 HTTP/1.1\r\nHost: x\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;
  const end = Date.now() + SECONDS * 1000;
  let ok = 0, failed = 0;
  const cpu0 = process.cpuUsage();
  const server0 = cpuOf(pid);
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < end) (await once(port, request)) ? ok++ : failed++;
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const server = cpuOf(pid) - server0;
  return { per_s: Math.round(ok / secs), failed, gen_cpu_pct: Math.round((cpu.user + cpu.system) / 1e4 / secs),
    server_cpu_pct: Math.round((100 * server) / secs), server_us_per_conn: Math.round((server * 1e6) / ok) };
}

const redisPort = await freePort();
const redis = spawn('taskset', ['-c', '1', 'redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
procs.push(redis);
await sleep(300);
execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
const secretFile = join(dir, 'secret');
writeFileSync(secretFile, SECRET);
const rsa = await generateKeyPair('RS256', { modulusLength: 2048 });
writeFileSync(join(dir, 'rsa.pem'), await exportSPKI(rsa.publicKey));
const exp = Math.floor(Date.now() / 1000) + 3600;
const claims = { sse: { subscribe: ['r.1'] } };
const cases = {
  none: { auth: '', token: null },
  HS256: { auth: `jwt_secret_file = ${secretFile}`, token: await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new TextEncoder().encode(SECRET)) },
  RS256: { auth: `jwt_algorithm = RS256\njwt_key_file = ${join(dir, 'rsa.pem')}`, token: await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setExpirationTime(exp).sign(rsa.privateKey) },
};
const runs = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, c] of Object.entries(cases)) {
    const { p, port } = await start(name === 'none' ? 'none' : name, c.auth);
    const m = await measure(port, c.token, p.pid);
    p.kill('SIGTERM');
    await new Promise((resolve) => p.once('exit', resolve));
    (runs[name] ??= []).push(m);
    console.log(name, JSON.stringify(m));
  }
}
const summary = { date: new Date().toISOString(), seconds: SECONDS, rounds: ROUNDS, concurrency: CONCURRENCY, cases: {} };
for (const [name, ms] of Object.entries(runs))
  summary.cases[name] = { connections_per_s: median(ms.map((m) => m.per_s)), failed: ms.reduce((a, m) => a + m.failed, 0),
    gen_cpu_pct: median(ms.map((m) => m.gen_cpu_pct)), server_cpu_pct: median(ms.map((m) => m.server_cpu_pct)),
    server_us_per_conn: median(ms.map((m) => m.server_us_per_conn)), runs: ms };
for (const name of ['HS256', 'RS256'])
  summary.cases[name].vs_none = +(summary.cases[name].connections_per_s / summary.cases.none.connections_per_s).toFixed(3);
writeFileSync('bench/results/auth.json', `${JSON.stringify(summary, null, 2)}\n`);
console.log(JSON.stringify(summary.cases, (k, v) => (k === 'runs' ? undefined : v)));
process.exit(0);
