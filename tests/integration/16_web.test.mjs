// The bridge's plain-HTTP side beyond streams: static files from static_dir (the demo page),
// with traversal impossible, and publish routes (POST -> Redis PUBLISH).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis, startBridge, sseCat, waitSubscribed, rawRequest, tempDir, waitFor } from './lib/harness.mjs';

function webRoot() {
  const dir = tempDir('sse-bridge-www-');
  mkdirSync(join(dir, 'www', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'www', 'index.html'), '<!doctype html><title>home</title>');
  writeFileSync(join(dir, 'www', 'assets', 'app.js'), 'console.log(1);');
  writeFileSync(join(dir, 'www', 'assets', 'index.html'), 'assets index');
  writeFileSync(join(dir, 'www', '.secret'), 'hidden');
  writeFileSync(join(dir, 'outside.txt'), 'not served');
  symlinkSync(join(dir, 'outside.txt'), join(dir, 'www', 'link.txt'));
  symlinkSync('/etc', join(dir, 'www', 'etc'));
  return dir;
}

test('static files: the index, content types, HEAD; nothing outside the directory', async (t) => {
  const redis = await startRedis(t);
  const dir = webRoot();
  const bridge = await startBridge(t, { redis, config: `[bridge]\nstatic_dir = ${join(dir, 'www')}\n` });
  let res = await fetch(`${bridge.url}/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(await res.text(), '<!doctype html><title>home</title>');
  res = await fetch(`${bridge.url}/assets/app.js`);
  assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(await res.text(), 'console.log(1);');
  assert.equal(await (await fetch(`${bridge.url}/assets/`)).text(), 'assets index');
  res = await fetch(`${bridge.url}/assets/app.js`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  // Routes come first: the built-in /events/{channel} still streams.
  const cat = sseCat(t, `${bridge.url}/events/x`, { count: 1 });
  await waitSubscribed(redis.client(), 'x', 1);
  await redis.client().publish('x', 'still a stream');
  assert.equal((await cat.done()).code, 0);

  // Each path and its exact answer: a name the directory does not serve is "no such file"
  // (404), whatever the reason (traversal, hidden, a link out, a directory without its slash);
  // a NUL in the path is a malformed request (400).
  const notFound = [404, 'no route or file for this path'];
  for (const [path, [status, reason]] of [
    ['/../outside.txt', notFound], ['/%2e%2e/outside.txt', notFound],
    ['/assets/../../outside.txt', notFound], ['/assets/%2e%2e/%2e%2e/outside.txt', notFound],
    ['/.secret', notFound], ['/%2esecret', notFound], ['/link.txt', notFound],
    ['/etc/passwd', notFound], ['/etc/hostname', notFound], ['//etc/passwd', notFound],
    ['/nothing.html', notFound], ['/assets', notFound], ['/a%00b', [400, 'malformed path']]]) {
    const raw = await rawRequest(bridge.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 (404|400) /, `${path}: ${raw.split('\r\n')[0]}`);
    assert.match(raw, new RegExp(`^HTTP/1\\.1 ${status} `), `${path}: ${raw.split('\r\n')[0]}`);
    assert.equal(raw.split('\r\n\r\n')[1], `${reason}\n`, path);
    assert.doesNotMatch(raw, /not served|hidden|root:/, path);
  }
  // Without static_dir, / is a plain 404.
  const plain = await startBridge(t, { redis });
  assert.equal((await fetch(`${plain.url}/`)).status, 404);
});

test('a static_dir that does not exist stops the daemon before it starts', async (t) => {
  const redis = await startRedis(t);
  await assert.rejects(startBridge(t, { redis, config: '[bridge]\nstatic_dir = /nonexistent/www\n' }),
    /static_dir \/nonexistent\/www: No such file or directory/);
});

test('publish routes: POST publishes the body to the route\'s channels; limits and refusals', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis, config: `[bridge]
max_publish_size = 1KiB

[route control]
path = /control/{who}
channel = control.{who}
channel = control.all
publish = true

[route read]
path = /events/{channel}
channel = {channel}
` });
  const one = sseCat(t, `${bridge.url}/events/control.alice`, { count: 1 });
  const all = sseCat(t, `${bridge.url}/events/control.all`, { count: 1 });
  const pub = redis.client();
  await waitSubscribed(pub, 'control.alice', 1);
  await waitSubscribed(pub, 'control.all', 1);
  let res = await fetch(`${bridge.url}/control/alice`, { method: 'POST', body: 'line1\nline2' });
  assert.equal(res.status, 202);
  assert.equal(await res.text(), 'published to 2 channel(s)\n');
  assert.equal((await one.done()).code, 0);
  assert.equal((await all.done()).code, 0);
  assert.deepEqual(one.events.map((e) => e.data), ['line1\nline2']);
  assert.deepEqual(all.events.map((e) => e.data), ['line1\nline2']);
  assert.equal((await bridge.metrics()).published_total, 2);

  res = await fetch(`${bridge.url}/control/alice`, { method: 'POST', body: 'x'.repeat(1025) });
  assert.equal(res.status, 413);
  res = await fetch(`${bridge.url}/control/a*b`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 400);
  res = await fetch(`${bridge.url}/events/news`, { method: 'POST', body: 'x' }); // not a publish route
  assert.equal(res.status, 413); // a body where none is taken
  res = await fetch(`${bridge.url}/events/news`, { method: 'POST' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS');
  res = await fetch(`${bridge.url}/control/alice`, { method: 'PUT', body: 'x' });
  assert.equal(res.status, 413);
  res = await fetch(`${bridge.url}/control/alice`, { method: 'DELETE' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS, POST');

  await redis.stop();
  // Once the bridge knows Redis is gone (before that, a publish may still be tried and fail).
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 503,
    { what: '/healthz to report Redis down' });
  res = await fetch(`${bridge.url}/control/alice`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '5');
  assert.equal((await bridge.metrics()).published_total, 2, 'nothing published while Redis is away');
});
