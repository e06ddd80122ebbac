// CORS: allowed origins get Access-Control-Allow-Origin, others 403; pre-flight answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge } from './lib/harness.mjs';

async function head(url, init = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { ...init, signal: ac.signal });
  const h = Object.fromEntries(res.headers);
  ac.abort(); // streams never end: the head is all we need
  return [res.status, h];
}

test('allow-list with credentials', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config:
    '[bridge]\ncors_origins = https://app.example, http://localhost:3000\ncors_credentials = true\n' });
  const url = `${bridge.url}/events/x`;
  let [code, h] = await head(url, { headers: { Origin: 'https://app.example' } });
  assert.equal(code, 200);
  assert.equal(h['access-control-allow-origin'], 'https://app.example');
  assert.equal(h['access-control-allow-credentials'], 'true');
  assert.match(h.vary, /Origin/);

  [code, h] = await head(url, { headers: { Origin: 'https://evil.example' } });
  assert.equal(code, 403);
  assert.equal(h['access-control-allow-origin'], undefined);

  [code, h] = await head(url, { method: 'OPTIONS', headers: { Origin: 'http://localhost:3000',
    'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'last-event-id' } });
  assert.equal(code, 204);
  assert.equal(h['access-control-allow-origin'], 'http://localhost:3000');
  assert.match(h['access-control-allow-headers'], /Last-Event-ID/i);
  assert.match(h['access-control-allow-methods'], /GET/);

  [code] = await head(url, { method: 'OPTIONS', headers: { Origin: 'https://evil.example',
    'Access-Control-Request-Method': 'GET' } });
  assert.equal(code, 403);

  // The bridge's own origin is not cross-origin.
  [code, h] = await head(url, { headers: { Origin: bridge.url } });
  assert.equal(code, 200);
  assert.equal(h['access-control-allow-origin'], undefined);
});

test('wildcard origin without credentials; no list means same-origin only', async (t) => {
  const redis = await startRedis(t);
  const open = await startBridge(t, { redis, config: '[bridge]\ncors_origins = *\n' });
  const [code, h] = await head(`${open.url}/events/x`, { headers: { Origin: 'https://any.example' } });
  assert.equal(code, 200);
  assert.equal(h['access-control-allow-origin'], '*');
  assert.equal(h['access-control-allow-credentials'], undefined);

  const closed = await startBridge(t, { redis });
  const [denied] = await head(`${closed.url}/events/x`, { headers: { Origin: 'https://any.example' } });
  assert.equal(denied, 403);
  const [plain] = await head(`${closed.url}/events/x`);
  assert.equal(plain, 200, 'requests without Origin (curl, same-origin pages) are served');
});
