// The peer "a user would write instead": a plain Node.js SSE bridge with http, ioredis and
// mqtt, as in the usual tutorials. No journal, no bounds.
//   GET /events/<channel>  Redis pub/sub: one subscriber connection for the process
//   GET /stream/<key>      a Redis stream: one XREAD BLOCK loop over the keys wanted, new
//                          entries only, the entry id as the SSE id, the "data" field as data
//   GET /mqtt/<name>       the MQTT topic bench/<name> (one client for the process)
//   node bench/peers/node-bridge.mjs <port> <redis-port> [<mqtt-port>]
import http from 'node:http';
import Redis from 'ioredis';
import mqtt from 'mqtt';

const [port, redisPort, mqttPort] = process.argv.slice(2).map(Number);
const sub = new Redis({ port: redisPort, host: '127.0.0.1' });
const reader = new Redis({ port: redisPort, host: '127.0.0.1' });
const broker = mqttPort ? mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`) : null;
const clients = new Map(); // "kind:name" -> Set of responses

const frame = (message, id) =>
  `${id ? `id: ${id}\n` : ''}data: ${String(message).split(/\r\n|\r|\n/).join('\ndata: ')}\n\n`;

function send(key, message, id) {
  const set = clients.get(key);
  if (!set) return;
  const f = frame(message, id);
  for (const res of set) res.write(f);
}

sub.on('message', (channel, message) => send(`events:${channel}`, message));
broker?.on('message', (topic, payload) => send(`mqtt:${topic.slice('bench/'.length)}`, payload));

// The stream loop: XREAD from the last id seen of every stream someone wants.
const cursors = new Map(); // key -> last id
async function readStreams() {
  for (;;) {
    if (cursors.size === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    const keys = [...cursors.keys()];
    const res = await reader.xread('BLOCK', 1000, 'STREAMS', ...keys, ...keys.map((k) => cursors.get(k)));
    for (const [key, entries] of res ?? []) {
      for (const [id, fields] of entries) {
        cursors.set(key, id);
        const i = fields.indexOf('data');
        send(`stream:${key}`, i >= 0 ? fields[i + 1] : '', id);
      }
    }
  }
}
readStreams();

http.createServer((req, res) => {
  const m = /^\/(events|stream|mqtt)\/([\w.:-]+)$/.exec(req.url);
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  const [, kind, name] = m;
  const key = `${kind}:${name}`;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.write(': hello\n\n');
  let set = clients.get(key);
  if (!set) {
    set = new Set();
    clients.set(key, set);
    if (kind === 'events') sub.subscribe(name);
    else if (kind === 'stream') cursors.set(name, '$');
    else broker?.subscribe(`bench/${name}`);
  }
  set.add(res);
  req.on('close', () => set.delete(res));
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
