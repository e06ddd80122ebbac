// A second SSE client for bench/run.sh's cross-check of every server's fan-out figure: nothing
// shared with bench/loadgen.c (Node's net sockets, no SSE parser, no HTTP library). It opens
// CLIENTS streams to URL, prints {"ready":N} once every response head is in, counts the events
// (lines starting "data:") each stream receives until SIGTERM or SECONDS, then prints
// {"clients":N,"heads":H,"events":E,"min":m,"max":M,"since_open":O,"window_events":W,"window_s":S}
// and exits.
// A first SIGUSR2 opens a window and a second closes it (bench/run.sh: while the publisher
// publishes; SIGUSR1 is Node's debugger):
// the events arriving inside it, W in S seconds, are a saturated server's rate, which a
// count of everything that ever arrives cannot give; O counts from the window's opening to
// the end (what a server sends a new subscriber from its history, nchan's, is not counted).
//   node bench/crosscheck.mjs URL CLIENTS SECONDS
import { connect } from 'node:net';

const [url, nArg, secondsArg] = process.argv.slice(2);
const { hostname, port, pathname, search } = new URL(url);
const N = Number(nArg);
const counts = new Array(N).fill(0);
let heads = 0;
let total = 0; // events, all streams
let windowFrom = null; // [total, time] when the window opened
let windowed = null; // { events, s } once it closed
const sockets = [];

function open(i) {
  const s = connect({ host: hostname, port: Number(port) || 80 });
  let head = true;
  let tail = ''; // a line cut by a read: its start
  s.setEncoding('latin1');
  s.on('connect', () => s.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
    'Accept: text/event-stream\r\n\r\n'));
  s.on('data', (chunk) => {
    let text = tail + chunk;
    if (head) {
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) { tail = text; return; }
      head = false;
      if (++heads === N) console.log(JSON.stringify({ ready: N }));
      text = `\n${text.slice(end + 4)}`; // so that a first line of data counts too
    }
    // Count "data:" at line starts; chunked encoding's size lines never start with it.
    let at = 0;
    for (;;) {
      const k = text.indexOf('\ndata:', at);
      if (k < 0) break;
      counts[i]++;
      total++;
      at = k + 6;
    }
    const nl = text.lastIndexOf('\n');
    tail = nl < 0 ? text : text.slice(nl);
  });
  s.on('error', () => {});
  sockets.push(s);
}

function finish() {
  for (const s of sockets) s.destroy();
  console.log(JSON.stringify({ clients: N, heads, events: counts.reduce((a, b) => a + b, 0),
    min: Math.min(...counts), max: Math.max(...counts),
    since_open: windowFrom ? total - windowFrom[0] : null,
    window_events: windowed?.events ?? null, window_s: windowed?.s ?? null }));
  process.exit(0);
}

for (let i = 0; i < N; i++) open(i);
process.on('SIGTERM', finish);
process.on('SIGUSR2', () => {
  if (windowFrom === null) windowFrom = [total, process.hrtime.bigint()];
  else if (windowed === null) windowed = { events: total - windowFrom[0], s: Number(process.hrtime.bigint() - windowFrom[1]) / 1e9 };
});
setTimeout(finish, Number(secondsArg) * 1000);
