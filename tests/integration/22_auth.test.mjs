// Authorization by JWT ([auth], route auth = jwt): tokens minted by the npm `jose` package,
// read from the Authorization header, a cookie or (when allowed) ?access_token=. Every
// refusal is exact: 401 with WWW-Authenticate: Bearer when there is no token, 401
// error="invalid_token" for a bad one (expired, nbf, iss, aud, alg none, the algorithm
// confusion, a flipped or cut signature, another key), 403 error="insufficient_scope" when
// the grant does not cover every channel, pattern or topic; counted by outcome; the token never
// in the log. A stream ends at its token's exp, and EventSource resumes it with no gap and no
// duplicate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { SignJWT, generateKeyPair, exportSPKI, exportJWK } from 'jose';
import { startRedis, startBridge, tempDir, waitFor, waitLog, rawRequest } from './lib/harness.mjs';

const SECRET = 'a-secret-of-at-least-32-bytes-for-hs256!';
const secretKey = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);

async function mint(claims, { alg = 'HS256', key = secretKey, kid, exp = now() + 600 } = {}) {
  const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg, ...(kid ? { kid } : {}) });
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(key);
}

const b64url = (s) => Buffer.from(s).toString('base64url');

const ROUTES = `
[route orders]
path = /orders/{customer}
channel = orders.{customer}
auth = jwt

[route many]
path = /many
topic = orders.{id}
auth = jwt

[route pattern]
path = /all-orders
pattern = orders.*
auth = jwt

[route post]
path = /post/{customer}
channel = orders.{customer}
publish = true
auth = jwt

[route open]
path = /open/{x}
channel = open.{x}
`;

async function setup(t, { auth = '', routes = ROUTES, env = {} } = {}) {
  const redis = await startRedis(t);
  const dir = tempDir('sse-bridge-auth-');
  writeFileSync(join(dir, 'secret'), `${SECRET}\n`); // a final newline, as echo writes it
  const config = `[bridge]\ncors_origins = https://app.example\ncors_credentials = true\n` +
    `[auth]\njwt_secret_file = ${join(dir, 'secret')}\n${auth}\n${routes}`;
  const bridge = await startBridge(t, { config, redis, env });
  return { redis, bridge, dir };
}

// The head of a response to GET path with headers, and up to `until` of its body.
async function get(bridge, path, headers = {}) {
  const res = await fetch(`${bridge.url}${path}`, { headers });
  if (res.status !== 200) return { status: res.status, headers: res.headers, text: await res.text() };
  const reader = res.body.getReader();
  const { value } = await reader.read(); // the stream opened: its first bytes (retry:)
  await reader.cancel();
  return { status: 200, headers: res.headers, text: new TextDecoder().decode(value) };
}

test('JWT: each token is let in or refused with the right status, header and counter', async (t) => {
  const { bridge } = await setup(t, { auth: 'jwt_issuer = https://auth.example\njwt_audience = sse-bridge' });
  const good = { iss: 'https://auth.example', aud: 'sse-bridge', sse: { subscribe: ['orders.42'] } };
  const valid = await mint(good);
  const flipped = valid.slice(0, -2) + (valid.at(-2) === 'A' ? 'B' : 'A') + valid.at(-1);
  const rows = [
    ['valid', valid, 200],
    ['aud in a list', await mint({ ...good, aud: ['x', 'sse-bridge'] }), 200],
    ['expired', await mint(good, { exp: now() - 120 }), 401, 'invalid_token'],
    ['no exp', await mint(good, { exp: null }), 401, 'invalid_token'],
    ['nbf in the future', await mint({ ...good, nbf: now() + 300 }), 401, 'invalid_token'],
    ['wrong issuer', await mint({ ...good, iss: 'https://evil.example' }), 401, 'invalid_token'],
    ['wrong audience', await mint({ ...good, aud: 'other' }), 401, 'invalid_token'],
    ['another secret', await mint(good, { key: new TextEncoder().encode(SECRET + '!') }), 401, 'invalid_token'],
    ['HS512 instead of the pinned HS256', await mint(good, { alg: 'HS512', key: new TextEncoder().encode(SECRET + SECRET) }), 401, 'invalid_token'],
    ['alg none', `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify({ ...good, exp: now() + 600 }))}.`, 401, 'invalid_token'],
    ['a flipped signature byte', flipped, 401, 'invalid_token'],
    ['truncated', valid.slice(0, valid.lastIndexOf('.')), 401, 'invalid_token'],
    ['not a JWT at all', 'hello', 401, 'invalid_token'],
    ['a grant for another customer', await mint({ ...good, sse: { subscribe: ['orders.43'] } }), 403, 'insufficient_scope'],
    ['no grant at all', await mint({ iss: good.iss, aud: good.aud }), 403, 'insufficient_scope'],
  ];
  for (const [name, token, status, error] of rows) {
    const r = await get(bridge, '/orders/42', { Authorization: `Bearer ${token}` });
    assert.equal(r.status, status, name);
    if (status === 200) {
      assert.match(r.text, /^retry: /, name);
    } else {
      assert.equal(r.headers.get('www-authenticate'), `Bearer error="${error}"`, name);
      assert.equal(r.text, status === 401 ? 'invalid token\n' : 'the token does not grant this\n', name);
    }
  }
  const none = await get(bridge, '/orders/42');
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  assert.equal(none.text, 'a token is needed\n');
  // A routes without auth stays open.
  assert.equal((await get(bridge, '/open/x')).status, 200);
  await waitFor(async () => (await bridge.metrics()).auth_allowed_total === 2, { what: 'the counters' });
  const m = await bridge.metrics();
  assert.equal(m.auth_invalid_total, 11);
  assert.equal(m.auth_forbidden_total, 2);
  assert.equal(m.auth_missing_total, 1);
  // The log says why, never with the token.
  await waitLog(bridge, /auth: 401 for \/orders\/42 from 127\.0\.0\.1: expired$/);
  await waitLog(bridge, /auth: 403 for \/orders\/42 from 127\.0\.0\.1: no grant for a topic$/);
  for (const [, token] of rows) {
    const sig = token.split('.')[2];
    if (sig) assert.ok(!bridge.log.some((l) => l.includes(sig)), 'a token in the log');
  }
});

test('JWT: from the header, then the cookie; the query only when jwt_query = true', async (t) => {
  const token = await mint({ sse: { subscribe: ['orders.7'] } });
  const { bridge } = await setup(t, { auth: 'jwt_cookie = sse_token' });
  assert.equal((await get(bridge, '/orders/7', { Cookie: `theme=dark; sse_token=${token}; x=1` })).status, 200);
  assert.equal((await get(bridge, '/orders/7', { Cookie: 'sse_token=' })).status, 401);
  const other = await mint({ sse: { subscribe: ['orders.8'] } });
  // The header wins over the cookie.
  assert.equal((await get(bridge, '/orders/7', { Authorization: `Bearer ${other}`, Cookie: `sse_token=${token}` })).status, 403);
  const q = await get(bridge, `/orders/7?access_token=${token}`);
  assert.equal(q.status, 401, 'a query token is not read unless jwt_query = true');
  assert.equal(q.headers.get('www-authenticate'), 'Bearer');

  const { bridge: withQuery } = await setup(t, { auth: 'jwt_query = true' });
  assert.equal((await get(withQuery, `/orders/7?access_token=${token}`)).status, 200);
  assert.ok(!withQuery.log.some((l) => l.includes(token.split('.')[2])));
});

test('JWT: every topic of a request must be granted; a pattern must be granted as such', async (t) => {
  const { bridge } = await setup(t);
  const one = await mint({ sse: { subscribe: ['orders.1'] } });
  const star = await mint({ sse: { subscribe: ['orders.*'] } });
  const bearer = (tok) => ({ Authorization: `Bearer ${tok}` });
  assert.equal((await get(bridge, '/many?topic=orders.1', bearer(one))).status, 200);
  assert.equal((await get(bridge, '/many?topic=orders.1&topic=orders.2', bearer(one))).status, 403);
  assert.equal((await get(bridge, '/many?topic=orders.1&topic=orders.2', bearer(star))).status, 200);
  assert.equal((await get(bridge, '/all-orders', bearer(one))).status, 403);
  assert.equal((await get(bridge, '/all-orders', bearer(star))).status, 200);
  assert.equal((await get(bridge, '/all-orders', bearer(await mint({ sse: { subscribe: ['*'] } })))).status, 200);
});

test('JWT: publishing needs a publish grant for the channel', async (t) => {
  const { bridge, redis } = await setup(t);
  const post = async (tok) => (await fetch(`${bridge.url}/post/5`, {
    method: 'POST', body: 'hello', headers: tok ? { Authorization: `Bearer ${tok}` } : {},
  }));
  const sub = redis.client();
  const got = [];
  await sub.subscribe('orders.5');
  sub.on('message', (_c, m) => got.push(m));
  assert.equal((await post(null)).status, 401);
  assert.equal((await post(await mint({ sse: { subscribe: ['orders.5'] } }))).status, 403);
  assert.equal((await post(await mint({ sse: { publish: ['orders.6'] } }))).status, 403);
  assert.equal((await post(await mint({ sse: { publish: ['orders.*'] } }))).status, 202);
  await waitFor(() => got.length === 1, { what: 'the published message' });
  assert.deepEqual(got, ['hello']);
});

test('JWT: RS256 with a PEM key and ES256 with a JWKS; the HS256-with-the-public-key confusion is refused', async (t) => {
  const rsa = await generateKeyPair('RS256');
  const pem = await exportSPKI(rsa.publicKey);
  const dir = tempDir('sse-bridge-keys-');
  writeFileSync(join(dir, 'rsa.pem'), pem);
  const { bridge } = await setup(t, { auth: `jwt_algorithm = RS256\njwt_key_file = ${join(dir, 'rsa.pem')}` });
  const claims = { sse: { subscribe: ['orders.1'] } };
  const bearer = (tok) => ({ Authorization: `Bearer ${tok}` });
  assert.equal((await get(bridge, '/orders/1', bearer(await mint(claims, { alg: 'RS256', key: rsa.privateKey })))).status, 200);
  const confused = await mint(claims, { alg: 'HS256', key: new TextEncoder().encode(pem) });
  const r = await get(bridge, '/orders/1', bearer(confused));
  assert.equal(r.status, 401);
  await waitLog(bridge, /auth: 401 .*algorithm not the one configured/);

  const a = await generateKeyPair('ES256'), b = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(a.publicKey)), kid: 'a' }, { ...(await exportJWK(b.publicKey)), kid: 'b' }] };
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
  const { bridge: es } = await setup(t, { auth: `jwt_algorithm = ES256\njwt_key_file = ${join(dir, 'jwks.json')}` });
  assert.equal((await get(es, '/orders/1', bearer(await mint(claims, { alg: 'ES256', key: b.privateKey, kid: 'b' })))).status, 200);
  assert.equal((await get(es, '/orders/1', bearer(await mint(claims, { alg: 'ES256', key: b.privateKey, kid: 'a' })))).status, 401);
  assert.equal((await get(es, '/orders/1', bearer(await mint(claims, { alg: 'ES256', key: a.privateKey, kid: 'a' })))).status, 200);
});

test('JWT: a token longer than the headers may be is refused; pre-flight allows Authorization', async (t) => {
  const { bridge } = await setup(t);
  const huge = await mint({ sse: { subscribe: ['orders.1'] }, pad: 'x'.repeat(64 * 1024) });
  const r = await rawRequest(bridge.port, `GET /orders/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${huge}\r\n\r\n`);
  assert.match(r, /^HTTP\/1\.1 (400|413|431) /, 'refused by the header limit');
  const pre = await fetch(`${bridge.url}/orders/1`, { method: 'OPTIONS', headers: {
    Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET',
    'Access-Control-Request-Headers': 'authorization, last-event-id' } });
  assert.equal(pre.status, 204);
  const allowed = pre.headers.get('access-control-allow-headers').toLowerCase();
  assert.ok(allowed.includes('authorization') && allowed.includes('last-event-id'), allowed);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
});

test('JWT: a stream ends at its token exp; EventSource resumes with a new token, no gap, no duplicate', async (t) => {
  const { bridge, redis } = await setup(t, {
    auth: 'jwt_leeway = 0s',
    routes: '[route orders]\npath = /orders/{customer}\nchannel = orders.{customer}\njournal = 1000\nauth = jwt\n',
  });
  let opens = 0;
  const es = new EventSource(`${bridge.url}/orders/9`, {
    fetch: async (url, init) => {
      opens++;
      const token = await mint({ sse: { subscribe: ['orders.9'] } }, { exp: now() + 2 });
      return fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
    },
  });
  t.after(() => es.close());
  const data = [];
  es.addEventListener('message', (e) => data.push(Number(e.data)));
  es.addEventListener('gap', (e) => data.push(`gap ${e.data}`));
  await waitFor(() => opens >= 1 && es.readyState === 1, { what: 'the stream open' });
  const pub = redis.client();
  let n = 0;
  const timer = setInterval(() => pub.publish('orders.9', String(++n)), 50);
  t.after(() => clearInterval(timer));
  await waitFor(() => opens >= 3, { timeout: 15000, what: 'two ends at exp and two resumes' });
  const last = n;
  clearInterval(timer);
  await waitFor(() => data.filter((d) => typeof d === 'number').length >= last, { what: `all ${last} messages` });
  assert.deepEqual(data, [...Array(last).keys()].map((i) => i + 1), 'in order, no gap, no duplicate');
});

// A stand-in for the application's auth endpoint: answers each check as `answer` says and
// records the headers it was sent.
async function startBackend(t, answer) {
  const { createServer } = await import('node:http');
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    answer(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { url: `http://127.0.0.1:${server.address().port}/sse-auth`, seen, server };
}

const BACKEND_ROUTES = `
[route orders]
path = /orders/{customer}
channel = orders.{customer}
auth = backend

[route post]
path = /post/{customer}
channel = orders.{customer}
publish = true
auth = backend
`;

test('backend: 2xx allows with the request described in headers; 401/403 pass through; one call per cache period', async (t) => {
  const backend = await startBackend(t, (req, res) => {
    const cookie = req.headers.cookie ?? '';
    if (cookie.includes('user=ann')) return res.writeHead(204).end();
    if (cookie.includes('user=bob')) return res.writeHead(403, { 'Content-Type': 'application/json' }).end('{"error":"not yours"}');
    res.writeHead(401, { 'WWW-Authenticate': 'Cookie realm="app"' }).end();
  });
  const { bridge } = await setup(t, { auth: `backend_url = ${backend.url}?v=1\nbackend_cache = 5s`, routes: BACKEND_ROUTES });
  const ann = await get(bridge, '/orders/1?x=2', { Cookie: 'user=ann', Authorization: 'Basic abc', 'Last-Event-ID': '5-0', 'X-Forwarded-For': '10.0.0.1' });
  assert.equal(ann.status, 200);
  assert.equal(backend.seen.length, 1);
  const h = backend.seen[0].headers;
  assert.equal(backend.seen[0].url, '/sse-auth?v=1');
  assert.equal(h['x-original-uri'], '/orders/1?x=2');
  assert.equal(h['x-original-method'], 'GET');
  assert.equal(h['x-sse-channels'], 'orders.1');
  assert.equal(h['last-event-id'], '5-0');
  assert.equal(h['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
  assert.equal(h.cookie, 'user=ann');
  assert.equal(h.authorization, 'Basic abc');
  // The same forwarded headers and channels: the cached decision, no second call (the
  // Last-Event-ID, X-Forwarded-For and the query are not part of the key).
  assert.equal((await get(bridge, '/orders/1', { Cookie: 'user=ann', Authorization: 'Basic abc' })).status, 200);
  assert.equal((await get(bridge, '/orders/1?y=3', { Cookie: 'user=ann', Authorization: 'Basic abc' })).status, 200);
  assert.equal(backend.seen.length, 1, 'cached');
  // Another cookie, or another channel: asked again.
  assert.equal((await get(bridge, '/orders/1', { Cookie: 'user=ann; k=1', Authorization: 'Basic abc' })).status, 200);
  assert.equal((await get(bridge, '/orders/2', { Cookie: 'user=ann', Authorization: 'Basic abc' })).status, 200);
  assert.equal(backend.seen.length, 3);
  assert.equal(backend.seen[2].headers['x-sse-channels'], 'orders.2');
  const bob = await get(bridge, '/orders/1', { Cookie: 'user=bob' });
  assert.equal(bob.status, 403);
  assert.equal(bob.text, '{"error":"not yours"}', 'the backend\'s body, as it was');
  assert.equal(bob.headers.get('content-type'), 'application/json');
  const anon = await get(bridge, '/orders/1');
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get('www-authenticate'), 'Cookie realm="app"');
  assert.equal(anon.text, 'denied by the backend (401)\n', 'no body from the backend: our reason');
  const post = await fetch(`${bridge.url}/post/1`, { method: 'POST', body: 'x', headers: { Cookie: 'user=ann' } });
  assert.equal(post.status, 202);
  assert.equal(backend.seen.at(-1).headers['x-original-method'], 'POST');
  const m = await bridge.metrics();
  assert.equal(m.auth_backend_allowed_total, 6);
  assert.equal(m.auth_backend_denied_total, 2);
});

test('backend: a timeout, a refused connection and another status are 503 (fail closed)', async (t) => {
  const hung = await startBackend(t, () => {}); // never answers
  const { bridge } = await setup(t, { auth: `backend_url = ${hung.url}\nbackend_timeout = 300ms\nbackend_cache = 0s`, routes: BACKEND_ROUTES });
  const started = Date.now();
  const r = await get(bridge, '/orders/1');
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '5');
  assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);

  const gone = await startBackend(t, () => {});
  const goneUrl = gone.url;
  gone.server.close();
  await new Promise((resolve) => gone.server.once('close', resolve));
  const { bridge: down } = await setup(t, { auth: `backend_url = ${goneUrl}`, routes: BACKEND_ROUTES });
  assert.equal((await get(down, '/orders/1')).status, 503);

  const teapot = await startBackend(t, (req, res) => res.writeHead(500).end());
  const { bridge: broken } = await setup(t, { auth: `backend_url = ${teapot.url}`, routes: BACKEND_ROUTES });
  assert.equal((await get(broken, '/orders/1')).status, 503);
  assert.equal((await broken.metrics()).auth_backend_failed_total, 1);
  // A client that leaves while its check waits: the bridge goes on.
  const slow = await startBackend(t, (req, res) => setTimeout(() => res.writeHead(200).end(), 400));
  const { bridge: waiting } = await setup(t, { auth: `backend_url = ${slow.url}`, routes: BACKEND_ROUTES });
  const ac = new AbortController();
  const p = fetch(`${waiting.url}/orders/1`, { signal: ac.signal }).catch(() => null);
  await waitFor(() => slow.seen.length === 1, { what: 'the check sent' });
  ac.abort();
  await p;
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal((await fetch(`${waiting.url}/healthz`)).status, 200);
});

test('backend: {"expires_in": 1} ends the stream after a second', async (t) => {
  const backend = await startBackend(t, (req, res) =>
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"expires_in":1}'));
  const { bridge } = await setup(t, { auth: `backend_url = ${backend.url}`, routes: BACKEND_ROUTES });
  const started = Date.now();
  const res = await fetch(`${bridge.url}/orders/1`);
  assert.equal(res.status, 200);
  await res.text(); // the end of the stream
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 3000, `ended after ${took} ms`);
});

test('browser: the page\'s cookie grants one channel and not the other', async (t) => {
  const { startBrowser } = await import('./lib/harness.mjs');
  const dir = tempDir('sse-bridge-www-');
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>auth</title>');
  const { bridge, redis } = await setup(t, { auth: `jwt_cookie = sse_token\n[bridge]\nstatic_dir = ${dir}` });
  const token = await mint({ sse: { subscribe: ['orders.1'] } });
  const browser = await startBrowser(t);
  const context = await browser.newContext();
  await context.addCookies([{ name: 'sse_token', value: token, url: bridge.url }]);
  const page = await context.newPage();
  await page.goto(`${bridge.url}/`);
  await page.evaluate(() => {
    window.seen = { granted: [], grantedErrors: 0, denied: [], deniedErrors: 0 };
    const open = (path, key) => {
      const es = new EventSource(path);
      es.onmessage = (e) => window.seen[key].push(e.data);
      es.onerror = () => { window.seen[`${key}Errors`]++; if (key === 'denied') es.close(); };
    };
    open('/orders/1', 'granted');
    open('/orders/2', 'denied');
  });
  await waitFor(async () => (await bridge.metrics()).auth_allowed_total === 1 &&
    (await bridge.metrics()).auth_forbidden_total === 1, { what: 'both streams decided' });
  const pub = redis.client();
  await waitFor(async () => {
    await pub.publish('orders.1', 'one');
    await pub.publish('orders.2', 'two');
    return (await page.evaluate(() => window.seen.granted.length)) > 0;
  }, { what: 'an event on the granted stream' });
  const seen = await page.evaluate(() => window.seen);
  assert.ok(seen.granted.every((d) => d === 'one'), JSON.stringify(seen));
  assert.deepEqual(seen.denied, []);
  assert.equal(seen.deniedErrors, 1, 'the 403 ends that EventSource');
});

test('routes from query parameters: /event?appId={appId} fills the channel; missing or invalid is 400; the grant sees the channel', async (t) => {
  const { bridge, redis } = await setup(t, {
    routes: '[route event]\npath = /event?appId={appId}\nchannel = app.{appId}\nauth = jwt\n' +
      '[route open]\npath = /open?appId={appId}&page={page}\nchannel = app.{appId}.{page}\n',
  });
  const token = await mint({ sse: { subscribe: ['app.10003'] } });
  const bearer = { Authorization: `Bearer ${token}` };
  assert.equal((await get(bridge, '/event?page=1&pageSize=30&appId=10003', bearer)).status, 200);
  assert.equal((await get(bridge, '/event?appId=10004', bearer)).status, 403, 'the resolved channel is checked');
  const missing = await get(bridge, '/event?page=1', bearer);
  assert.equal(missing.status, 400);
  assert.equal(missing.text, 'missing query parameter appId\n');
  const bad = await get(bridge, '/event?appId=a*', bearer);
  assert.equal(bad.status, 400);
  assert.match(bad.text, /^invalid query parameter/);
  // Without auth, the same: an EventSource URL of the classic pattern, unchanged.
  const res = await fetch(`${bridge.url}/open?appId=7&page=2`);
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read(); // retry:
  const pub = redis.client();
  await waitFor(async () => (await pub.publish('app.7.2', 'hello')) === 1, { what: 'the subscription' });
  const { value } = await reader.read();
  await reader.cancel();
  assert.equal(new TextDecoder().decode(value).replace(/^[0-9a-f]+\r\n/, '').trimEnd(), 'data: hello');
});

test('backend: at most 256 checks wait at once; the ones past it are 503 at once', async (t) => {
  let held = 0;
  const hung = await startBackend(t, () => { held++; }); // answers nothing
  const { bridge } = await setup(t, { auth: `backend_url = ${hung.url}\nbackend_timeout = 5s\nbackend_cache = 0s`, routes: BACKEND_ROUTES });
  const started = Date.now();
  const statuses = [];
  const asks = Array.from({ length: 260 }, (_, i) =>
    fetch(`${bridge.url}/orders/${i}`).then(async (r) => { statuses.push([r.status, Date.now() - started]); await r.body?.cancel(); }));
  await waitFor(() => statuses.length >= 4, { timeout: 4000, what: 'the refusals past the bound' });
  const early = statuses.filter(([s, ms]) => s === 503 && ms < 4000);
  assert.equal(early.length, 4, JSON.stringify(statuses.slice(0, 10)));
  await waitFor(() => held === 256, { what: `256 checks at the backend (have ${held})` });
  hung.server.closeAllConnections(); // the checks fail: 503 too (fail closed)
  await Promise.all(asks);
  assert.equal(statuses.length, 260);
  assert.ok(statuses.every(([s]) => s === 503));
  assert.equal((await bridge.metrics()).auth_backend_failed_total, 260);
});
