// The browser check of the proxy stack (docker-compose.proxy.yml), run by tests/container/run.sh
// (check 9): headless Chromium (playwright-core, Debian's chromium) opens the example's page
// through nginx (TLS, HTTP/2; the test certificate is self-signed), whose 12 EventSources must
// all be open at once (over HTTP/1.1 six would wait). Then, publishing to the 12 rooms with
// FCALL sse_publish all along, it kills a replica and checks that every stream got every
// message exactly once, in order, with increasing ids and no gap event, having reconnected
// through nginx to the replica that is left.
//   PROXY_URL   https://127.0.0.1:<port>, the proxy as the host publishes it
//   REDIS_CLI   a command that runs redis-cli in the stack and reads commands on its stdin
//   KILL_CMD    a command that kills one replica (SIGKILL)
// Prints one line per step and a JSON summary; exits 0 when every check holds, 1 otherwise.
// Bounded: every wait has a deadline, and the whole run ends within DEADLINE_MS.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const { PROXY_URL, REDIS_CLI, KILL_CMD } = process.env;
const STREAMS = 12;
const EVERY_MS = 50;        // a message to every room each 50 ms
const BEFORE_KILL_MS = 5000; // past journal_lease (3 s): the replica left has watched the handover
const AFTER_KILL = 100;     // messages per room published after the kill
const DEADLINE_MS = 120000;

const say = (...a) => console.log('proxy-browser:', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out (${ms} ms) waiting for ${what}`);
    await sleep(100);
  }
}

let browser = null;
let cli = null;
const watchdog = setTimeout(() => {
  say(`FAILED: still running after ${DEADLINE_MS} ms`);
  process.exit(1);
}, DEADLINE_MS);

async function main() {
  if (!PROXY_URL || !REDIS_CLI || !KILL_CMD) throw new Error('PROXY_URL, REDIS_CLI and KILL_CMD are needed');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-default-apps', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${PROXY_URL}/?n=${STREAMS}`, { timeout: 20000 });
  const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  if (protocol !== 'h2') throw new Error(`the page came over ${protocol}, not HTTP/2`);
  const state = () => page.evaluate(() => window.streams.map((s) => ({
    path: s.path, readyState: s.source.readyState, opens: s.opens, errors: s.errors,
    events: s.events.map((e) => ({ type: e.type, id: e.id, data: e.data })),
  })));
  await waitFor(`all ${STREAMS} streams open at once`,
    async () => (await state()).every((s) => s.readyState === 1), 20000);
  say(`the page came over h2 and its ${STREAMS} EventSources are open at once`);

  // One redis-cli in the stack, fed a command per line.
  cli = spawn('sh', ['-c', `exec ${REDIS_CLI}`], { stdio: ['pipe', 'ignore', 'inherit'] });
  let seq = 0;
  const publishRound = () => {
    let lines = '';
    for (let i = 1; i <= STREAMS; i++) {
      lines += `FCALL sse_publish 1 room.${i} "{\\"room\\":${i},\\"seq\\":${seq}}"\n`;
    }
    cli.stdin.write(lines);
    seq++;
  };
  const publishFor = async (rounds) => {
    for (let r = 0; r < rounds; r++) { publishRound(); await sleep(EVERY_MS); }
  };
  await publishFor(BEFORE_KILL_MS / EVERY_MS);
  const killedAt = Date.now();
  const kill = spawn('sh', ['-c', KILL_CMD], { stdio: ['ignore', 'inherit', 'inherit'] });
  const killed = new Promise((resolve, reject) => {
    kill.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`KILL_CMD exited ${code}`))));
  });
  await publishFor(AFTER_KILL);
  await killed;
  say(`a replica killed after ${BEFORE_KILL_MS / EVERY_MS} messages per room; ${AFTER_KILL} more published`);
  const total = seq;
  cli.stdin.end();
  const seqsOf = (s) => s.events.filter((e) => e.type === 'message').map((e) => JSON.parse(e.data).seq);
  try {
    await waitFor(`every stream to receive seq ${total - 1}`,
      async () => (await state()).every((s) => seqsOf(s).at(-1) === total - 1), 30000);
  } catch (e) {
    for (const s of await state()) {
      say(`${s.path}: readyState ${s.readyState}, ${s.opens} opens, ${s.errors} errors,` +
        ` ${seqsOf(s).length} messages (last seq ${seqsOf(s).at(-1)}),` +
        ` ${s.events.length - seqsOf(s).length} other events`);
    }
    throw e;
  }
  const reconnectMs = Date.now() - killedAt;

  const streams = await state();
  const problems = [];
  let reconnected = 0;
  for (const s of streams) {
    const got = seqsOf(s);
    const gaps = s.events.filter((e) => e.type === 'gap');
    if (gaps.length) problems.push(`${s.path}: gap events ${gaps.map((g) => g.data).join(' ')}`);
    const want = Array.from({ length: total }, (_, k) => k);
    if (got.length !== total || got.some((v, k) => v !== want[k])) {
      const dup = got.filter((v, k) => got.indexOf(v) !== k);
      const lost = want.filter((v) => !got.includes(v));
      problems.push(`${s.path}: ${got.length} of ${total} messages, lost [${lost.slice(0, 10)}],` +
        ` twice [${dup.slice(0, 10)}]`);
    }
    const ids = s.events.filter((e) => e.type === 'message').map((e) => e.id.split('-').map(BigInt));
    for (let k = 1; k < ids.length; k++) {
      const [a, b] = [ids[k - 1], ids[k]];
      if (!(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]))) {
        problems.push(`${s.path}: ids do not increase at message ${k}`);
        break;
      }
    }
    if (s.opens >= 2) reconnected++;
  }
  if (reconnected === 0) problems.push('no stream reconnected: the killed replica served none');
  console.log(JSON.stringify({ streams: streams.length, messages_per_stream: total, reconnected,
    opens: streams.map((s) => s.opens), reconnect_ms: reconnectMs, protocol }));
  if (problems.length) {
    for (const p of problems) say(`FAILED: ${p}`);
    return 1;
  }
  say(`every stream got its ${total} messages once, in order, no gap event; ${reconnected} of` +
    ` ${STREAMS} reconnected through nginx after the kill`);
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  say(`FAILED: ${e.message}`);
}
if (cli) cli.kill('SIGKILL');
if (browser) await Promise.race([browser.close(), sleep(5000)]);
clearTimeout(watchdog);
process.exit(code);
