// The peer "a user would write instead": a plain Node.js SSE bridge with http and ioredis, as
// in the usual tutorials. One Redis subscriber for the process; GET /events/<channel> streams
// that channel to each client with res.write. No journal, no bounds.
//   node bench/peers/node-bridge.mjs <port> <redis-port>
import http from 'node:http';
import Redis from 'ioredis';

const [port, redisPort] = process.argv.slice(2).map(Number);
const sub = new Redis({ port: redisPort, host: '127.0.0.1' });
const clients = new Map(); // channel -> Set of responses

sub.on('message', (channel, message) => {
  const set = clients.get(channel);
  if (!set) return;
  const frame = `data: ${message.split(/\r\n|\r|\n/).join('\ndata: ')}\n\n`;
  for (const res of set) res.write(frame);
});

http.createServer((req, res) => {
  const m = /^\/events\/([\w.:-]+)$/.exec(req.url);
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  const channel = m[1];
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.write(': hello\n\n');
  let set = clients.get(channel);
  if (!set) {
    set = new Set();
    clients.set(channel, set);
    sub.subscribe(channel);
  }
  set.add(res);
  req.on('close', () => set.delete(res));
}).listen(port, '127.0.0.1');
