// The demo page: one EventSource on /events/demo. The publisher (examples/publisher.sh) puts
// {"source": "pubsub" | "stream" | "mqtt", "n": sequence, "ts": milliseconds} in each message,
// and the route makes "source" the event name. window.demo keeps everything for the browser
// tests (tests/browser/).
'use strict';

const url = new URLSearchParams(location.search).get('stream') || '/events/demo';
const show = 20; // entries kept on screen per source
const demo = (window.demo = { events: [], notices: [], reconnects: 0, replayed: 0, closed: false });
const $ = (id) => document.getElementById(id);
$('url').textContent = url;

let openedAt = 0;
let errored = false;
const es = new EventSource(url);
demo.source = es;

function showState() {
  const state = ['CONNECTING', 'OPEN', 'CLOSED'][es.readyState];
  $('state').textContent = state;
  $('state').className = state;
  demo.state = state;
}

function notice(text) {
  demo.notices.push(text);
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('notices').prepend(li);
}

es.addEventListener('open', () => {
  if (errored) {
    demo.reconnects++;
    $('reconnects').textContent = demo.reconnects;
    notice(`reconnected after id ${demo.lastId || '(none)'}; the bridge replays what was missed`);
  }
  errored = false;
  openedAt = Date.now();
  showState();
});

es.addEventListener('error', () => {
  errored = true;
  showState();
});

for (const source of ['pubsub', 'stream', 'mqtt']) {
  es.addEventListener(source, (e) => {
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      msg = { n: null, ts: 0 };
    }
    // Sent before this connection opened: the bridge replayed it from the journal.
    const replayed = demo.reconnects > 0 && msg.ts > 0 && msg.ts < openedAt;
    demo.events.push({ source, n: msg.n, id: e.lastEventId, replayed });
    demo.lastId = e.lastEventId;
    if (replayed) demo.replayed++;
    const count = demo.events.filter((x) => x.source === source).length;
    $(`count-${source}`).textContent = count;
    $('last-id').textContent = e.lastEventId || '(none)';
    $('replayed').textContent = demo.replayed;
    const li = document.createElement('li');
    li.value = msg.n;
    li.textContent = e.data;
    if (replayed) li.className = 'replayed';
    const list = $(source);
    list.prepend(li);
    while (list.children.length > show) list.lastChild.remove();
  });
}

es.addEventListener('gap', (e) => notice(`history incomplete: ${e.data}`));

es.addEventListener('close', (e) => {
  // The classic pattern: the server says the stream is finished; do not reconnect.
  es.close();
  demo.closed = true;
  showState();
  notice(`closed by the server: ${e.data}`);
});

$('close').addEventListener('click', async () => {
  const res = await fetch('/demo/control', { method: 'POST', body: 'close' });
  notice(`close requested: HTTP ${res.status}`);
});

setInterval(showState, 250);
showState();
