// A second SSE client for bench/run.sh's cross-check of every server's fan-out figure: nothing
// shared with bench/loadgen.c (Node's net sockets, no SSE parser, no HTTP library). It opens
// CLIENTS streams to URL, prints {"ready":N} once every response head is in, counts the events
// (lines starting "data:") each stream receives until SIGTERM or SECONDS, then prints
// {"clients":N,"heads":H,"events":E,"min":m,"max":M} and exits.
//   node bench/crosscheck.mjs URL CLIENTS SECONDS
import { connect } from 'node:net';

const [url, nArg, secondsArg] = process.argv.slice(2);
const { hostname, port, pathname, search } = new URL(url);
const N = Number(nArg);
const counts = new Array(N).fill(0);
let heads = 0;
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
    min: Math.min(...counts), max: Math.max(...counts) }));
  process.exit(0);
}

for (let i = 0; i < N; i++) open(i);
process.on('SIGTERM', finish);
setTimeout(finish, Number(secondsArg) * 1000);
