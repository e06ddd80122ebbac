// The binary policy wherever a payload can come from and however it reaches a client: every
// combination of `binary = base64 | reject` x source (unjournalled channel, pattern with a
// non-UTF-8 channel name, journalled channel, stream route with a non-UTF-8 field, journalled
// MQTT route, the zero-config route) x live / replay. A non-UTF-8 message arrives as exactly
// the base64 of the bytes published, or not at all; the replay goes on past a rejected entry;
// the daemon stays up (and, under ASan, reads no freed byte: the replay used to). Also JSON
// numbers taken by a json: rule keep their text (22.2, not 22.199999999999999).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startBridge, startMosquitto, sseCat, waitFor } from './lib/harness.mjs';

const BIN = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('binary-payload')]);
const BIN_B64 = BIN.toString('base64');
const WARM = '{"seq":0}';

const routes = (policy) => `
[route ch_${policy}]
path = /ch/${policy}/{k}
channel = bin.ch.${policy}.{k}
binary = ${policy}

[route pat_${policy}]
path = /pat/${policy}/{k}
pattern = bin.pat.${policy}.{k}.*
event = channel:5
binary = ${policy}

[route jc_${policy}]
path = /jc/${policy}/{k}
channel = bin.jc.${policy}.{k}
journal = 100
binary = ${policy}

[route jpat_${policy}]
path = /jpat/${policy}/{k}
pattern = bin.jpat.${policy}.{k}.*
event = channel:5
journal = 100
binary = ${policy}

[route st_${policy}]
path = /st/${policy}/{k}
stream = bin:st:${policy}:{k}
event = field:kind
binary = ${policy}

[route mq_${policy}]
path = /mq/${policy}/{k}
mqtt_topic = bin/mq/${policy}/{k}
journal = 100
binary = ${policy}
`;

const config = `
[bridge]
retry = 100ms
[route number]
path = /number
channel = number
data = json:celsius
[route mqnumber]
path = /mqnumber
mqtt_topic = number
data = json:celsius
${routes('base64')}${routes('reject')}`;

// How each source publishes message n of a case (n = 0 is the warm-up, 2 the binary one), and
// what a client of that policy must receive for messages 1..3 as [event, data].
const sources = {
  ch: {
    replay: false,
    send: (ctx, key, n) => ctx.pub.publish(key, n === 2 ? BIN : `{"seq":${n}}`),
    key: (policy, k) => `bin.ch.${policy}.${k}`,
    want: (policy) => [['message', '{"seq":1}'], ...(policy === 'base64' ? [['message', BIN_B64]] : []),
      ['message', '{"seq":3}']],
  },
  pat: {
    replay: false,
    // Message 2 goes to a channel whose last segment is not UTF-8 (the event name).
    send: (ctx, key, n) => ctx.pub.publish(n === 2 ? Buffer.concat([Buffer.from(`${key}.`), Buffer.from([0xff])])
      : `${key}.ok`, `{"seq":${n}}`),
    key: (policy, k) => `bin.pat.${policy}.${k}`,
    want: (policy) => [['ok', '{"seq":1}'], ...(policy === 'base64' ? [['/w==', '{"seq":2}']] : []),
      ['ok', '{"seq":3}']],
  },
  jc: {
    replay: true,
    send: (ctx, key, n) => ctx.pub.publish(key, n === 2 ? BIN : `{"seq":${n}}`),
    key: (policy, k) => `bin.jc.${policy}.${k}`,
    want: (policy) => [['message', '{"seq":1}'], ...(policy === 'base64' ? [['message', BIN_B64]] : []),
      ['message', '{"seq":3}']],
  },
  jpat: {
    replay: true,
    send: (ctx, key, n) => ctx.pub.publish(n === 2 ? Buffer.concat([Buffer.from(`${key}.`), Buffer.from([0xff])])
      : `${key}.ok`, n === 2 ? BIN : `{"seq":${n}}`),
    key: (policy, k) => `bin.jpat.${policy}.${k}`,
    want: (policy) => [['ok', '{"seq":1}'], ...(policy === 'base64' ? [['/w==', BIN_B64]] : []),
      ['ok', '{"seq":3}']],
  },
  st: {
    replay: true,
    // Message 2: a non-UTF-8 data field and a non-UTF-8 event field.
    send: (ctx, key, n) => (n === 2 ? ctx.pub.xadd(key, '*', 'kind', Buffer.from([0xff]), 'data', BIN)
      : ctx.pub.xadd(key, '*', 'kind', 'tick', 'data', `{"seq":${n}}`)),
    key: (policy, k) => `bin:st:${policy}:${k}`,
    want: (policy) => [['tick', '{"seq":1}'], ...(policy === 'base64' ? [['/w==', BIN_B64]] : []),
      ['tick', '{"seq":3}']],
  },
  mq: {
    replay: true,
    send: (ctx, key, n) => ctx.broker.pub(key, n === 2 ? BIN : `{"seq":${n}}`),
    key: (policy, k) => `bin/mq/${policy}/${k}`,
    want: (policy) => [['message', '{"seq":1}'], ...(policy === 'base64' ? [['message', BIN_B64]] : []),
      ['message', '{"seq":3}']],
  },
};

const nonWarm = (events) => events.filter((e) => !(e.data === WARM || e.data === '{"seq":0}'));

// Publishes the warm-up message until the client has one: the upstream subscription (or the
// stream read, or the broker's) is then in place, whatever the source.
async function warmUp(send, cat) {
  await waitFor(async () => {
    await send(0);
    return cat.events.length > 0;
  }, { interval: 100, what: 'the first warm-up event' });
}

async function runCase(ctx, name, policy, mode) {
  const src = sources[name];
  const k = `${mode}${ctx.n++}`;
  const key = src.key(policy, k);
  const url = `${ctx.bridge.url}/${name}/${policy}/${k}`;
  const send = (n) => src.send(ctx, key, n);
  const want = src.want(policy);
  let headers = [];
  if (mode === 'replay') {
    const first = sseCat(ctx.t, url);
    await warmUp(send, first);
    const last = first.events[0].id;
    assert.ok(last, 'a journalled event carries an id');
    await first.stop();
    headers = [`Last-Event-ID: ${last}`];
  }
  const cat = sseCat(ctx.t, url, { headers });
  if (mode === 'live') await warmUp(send, cat);
  for (const n of [1, 2, 3]) await send(n);
  // A live text message after the three: everything before it has been decided.
  await send(4);
  await waitFor(() => cat.events.some((e) => e.data === '{"seq":4}'), { what: `seq 4 on ${url}` });
  await cat.stop();
  const got = nonWarm(cat.events).map((e) => [e.event, e.data]);
  const end = [src === sources.pat || src === sources.jpat ? 'ok' : name === 'st' ? 'tick' : 'message',
    '{"seq":4}'];
  assert.deepEqual(got, [...want, end], `${name} ${policy} ${mode}`);
  if (src.replay) {
    const ids = nonWarm(cat.events).map((e) => e.id);
    assert.ok(ids.every((id) => id), `every event of a journalled route has an id: ${ids}`);
    assert.equal(new Set(ids).size, ids.length, 'ids are distinct');
  }
}

test('binary = base64 | reject x every source x live / replay', async (t) => {
  const redis = await startRedis(t);
  const broker = await startMosquitto(t);
  const bridge = await startBridge(t, { redis, config, args: ['--mqtt', broker.url] });
  const ctx = { t, pub: redis.client(), broker, bridge, n: 0 };
  const cases = [];
  for (const name of Object.keys(sources)) {
    for (const policy of ['base64', 'reject']) {
      for (const mode of sources[name].replay ? ['live', 'replay'] : ['live']) cases.push([name, policy, mode]);
    }
  }
  assert.equal(cases.length, 20);
  for (const [name, policy, mode] of cases) {
    await t.test(`${name} ${policy} ${mode}`, () => runCase(ctx, name, policy, mode));
  }
  const res = await fetch(`${bridge.url}/healthz`);
  assert.equal(res.status, 200, 'the daemon is still up');
  const m = await bridge.metrics();
  assert.ok(m.messages_binary_total >= 20, `binary messages counted: ${m.messages_binary_total}`);
  assert.equal((await bridge.stop()).code, 0);
});

test('zero-config: a non-UTF-8 message, live and replayed, is the base64 of its bytes', async (t) => {
  const redis = await startRedis(t);
  const bridge = await startBridge(t, { redis });
  const ctx = { t, pub: redis.client(), broker: null, bridge, n: 0 };
  const send = (n) => ctx.pub.publish('zc', n === 2 ? BIN : `{"seq":${n}}`);
  const first = sseCat(t, `${bridge.url}/events/zc`);
  await warmUp(send, first);
  for (const n of [1, 2, 3]) await send(n);
  await waitFor(() => first.events.some((e) => e.data === '{"seq":3}'), { what: 'seq 3 live' });
  await first.stop();
  const live = nonWarm(first.events);
  assert.deepEqual(live.map((e) => e.data), ['{"seq":1}', BIN_B64, '{"seq":3}']);
  // Replayed from before the binary message: the same bytes again (the journal's copy).
  const back = sseCat(t, `${bridge.url}/events/zc`, { count: 2, headers: [`Last-Event-ID: ${live[0].id}`] });
  assert.equal((await back.done()).code, 0);
  assert.deepEqual(back.events.map((e) => [e.id, e.data]), [[live[1].id, BIN_B64], [live[2].id, '{"seq":3}']]);
  assert.equal((await bridge.stop()).code, 0);
});

test('a number taken by a json: rule keeps its text, from Redis and MQTT', async (t) => {
  const redis = await startRedis(t);
  const broker = await startMosquitto(t);
  const bridge = await startBridge(t, { redis, config, args: ['--mqtt', broker.url] });
  const pub = redis.client();
  const values = ['22.2', '0.1', '1e+300', '123456789012345678', '-0.000001'];
  for (const [path, send] of [
    ['/number', (v) => pub.publish('number', v)],
    ['/mqnumber', (v) => broker.pub('number', v)],
  ]) {
    const cat = sseCat(t, `${bridge.url}${path}`);
    await waitFor(async () => {
      await send('{"celsius":0}');
      return cat.events.length > 0;
    }, { interval: 100, what: `${path} subscribed` });
    for (const v of values) await send(`{"celsius":${v}}`);
    await waitFor(() => cat.events.filter((e) => e.data !== '0').length === values.length,
      { what: `${values.length} numbers on ${path}` });
    await cat.stop();
    assert.deepEqual(cat.events.filter((e) => e.data !== '0').map((e) => e.data),
      ['22.2', '0.1', '1e+300', '123456789012345678', '-0.000001']);
  }
});

test('stream entries: every field counts (data as the 21st), and a no-data entry keeps its binary fields', async (t) => {
  const redis = await startRedis(t);
  const broker = await startMosquitto(t);
  const bridge = await startBridge(t, { redis, config, args: ['--mqtt', broker.url] });
  const pub = redis.client();
  const cats = {
    base64: sseCat(t, `${bridge.url}/st/base64/fields`),
    reject: sseCat(t, `${bridge.url}/st/reject/fields`),
  };
  for (const [policy, cat] of Object.entries(cats)) {
    await warmUp(() => pub.xadd(`bin:st:${policy}:fields`, '*', 'kind', 'tick', 'data', WARM), cat);
  }
  for (const policy of ['base64', 'reject']) {
    const key = `bin:st:${policy}:fields`;
    const many = [];
    for (let i = 1; i <= 20; i++) many.push(`f${i}`, `v${i}`);
    await pub.xadd(key, '*', ...many, 'data', '{"seq":1}'); // data is the 21st field
    await pub.xadd(key, '*', 'kind', 'tick', 'x', Buffer.from([0xff]), 'y', 'ok'); // no data
    await pub.xadd(key, '*', 'kind', 'tick', 'data', '{"seq":4}');
  }
  for (const [policy, cat] of Object.entries(cats)) {
    await waitFor(() => cat.events.some((e) => e.data === '{"seq":4}'), { what: `seq 4 (${policy})` });
    await cat.stop();
  }
  assert.deepEqual(nonWarm(cats.base64.events).map((e) => [e.event, e.data]), [
    ['message', '{"seq":1}'],
    ['tick', '{"kind":"tick","x":"/w==","y":"ok"}'],
    ['tick', '{"seq":4}'],
  ]);
  assert.deepEqual(nonWarm(cats.reject.events).map((e) => [e.event, e.data]), [
    ['message', '{"seq":1}'],
    ['tick', '{"seq":4}'],
  ]);
  assert.ok((await bridge.metrics()).messages_binary_total >= 2);
});
