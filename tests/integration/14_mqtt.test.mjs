// MQTT topics to SSE, end to end: a real mosquitto broker on its own loopback port, messages
// published with mosquitto_pub, read with ssecat. Topic routes and wildcard filters, topic-level
// and user-property event names, wildcard injection refused, retained messages, the binary
// payload policy, the broker killed and restarted, a QoS 1 persistent session across a network
// cut, replay with Last-Event-ID from the journal, and TLS with a client certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { startRedis, startBridge, startMosquitto, startRelay, sseCat, waitFor, waitLog,
  waitSubscribed, makeCertificates, freePort } from './lib/harness.mjs';

const config = `
[bridge]
retry = 100ms
linger = 200ms
journal_linger = 1m

[route rooms]
path = /rooms/{room}
mqtt_topic = sensors/{room}/temperature
event = topic:2
data = json:value

[route plus]
path = /plus
mqtt_topic = sensors/+/temperature
event = topic

[route alerts]
path = /alerts
mqtt_topic = alerts/#
event = topic

[route overlap]
path = /overlap
mqtt_topic = sensors/#
mqtt_topic = sensors/+/temperature

[route pick]
path = /pick
topic = sensors/{room}/temperature
topic = doors/{door}
topic_source = mqtt

[route props]
path = /props
mqtt_topic = props
event = property:kind

[route quiet]
path = /quiet/{room}
mqtt_topic = sensors/{room}/temperature
retained = false

[route bin64]
path = /bin64
mqtt_topic = bin

[route binrej]
path = /binrej
mqtt_topic = bin
binary = reject

[route journal]
path = /journal/{room}
mqtt_topic = j/{room}
journal = 100

[route mixed]
path = /mixed
channel = mix.chan
stream = mix:stream
mqtt_topic = mix/topic
journal = 100
event = channel
`;

async function setup(t, { broker = null, mqttUrl = null, extra = '' } = {}) {
  const redis = await startRedis(t);
  broker = broker || await startMosquitto(t);
  const bridge = await startBridge(t, { redis, config: config + extra,
    args: ['--mqtt', mqttUrl || broker.url, '--log-level', 'debug'] });
  return { redis, broker, bridge };
}

const subscribed = (filter) => new RegExp(`mqtt: subscribed to ${filter.replace(/[+/#]/g, '\\$&')} `);

test('a topic route: path parameters fill topic levels, event from a level, data from JSON', async (t) => {
  const { broker, bridge } = await setup(t);
  const cat = sseCat(t, `${bridge.url}/rooms/kitchen`, { count: 3 });
  await cat.waitOpen();
  await waitLog(bridge, subscribed('sensors/kitchen/temperature'));
  await broker.pub('sensors/kitchen/temperature', '{"value":21.5}');
  await broker.pub('sensors/hall/temperature', '{"value":99}'); // another room: not ours
  await broker.pub('sensors/kitchen/temperature', 'not json');
  await broker.pub('sensors/kitchen/temperature', '{"value":{"c":22}}');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => [e.event, e.data]),
    [['kitchen', '21.5'], ['kitchen', 'not json'], ['kitchen', '{"c":22}']]);
  const healthz = await (await fetch(`${bridge.url}/healthz`)).json();
  assert.equal(healthz.mqtt, 'up');
});

test('+ and # filters deliver exactly the topics they match', async (t) => {
  const { broker, bridge } = await setup(t);
  const plus = sseCat(t, `${bridge.url}/plus`, { count: 2 });
  const hash = sseCat(t, `${bridge.url}/alerts`, { count: 3 });
  await waitLog(bridge, subscribed('sensors/+/temperature'));
  await waitLog(bridge, subscribed('alerts/#'));
  for (const topic of ['sensors/a/temperature', 'sensors/a/humidity', 'sensors/a/b/temperature',
    'alerts/fire', 'alerts', 'alerts/fire/floor1', 'sensors/b/temperature', 'other/alerts/x'])
    await broker.pub(topic, topic);
  assert.equal((await plus.done()).code, 0);
  assert.equal((await hash.done()).code, 0);
  assert.deepEqual(plus.events.map((e) => e.event), ['sensors/a/temperature', 'sensors/b/temperature']);
  // "alerts/#" also matches the parent level "alerts" (MQTT 3.1.1 section 4.7.1.2).
  assert.deepEqual(hash.events.map((e) => e.event), ['alerts/fire', 'alerts', 'alerts/fire/floor1']);
});

for (const protocol of ['3.1.1', '5']) {
  test(`overlapping filters of one route deliver a message once (MQTT ${protocol})`, async (t) => {
    const { broker, bridge } = await setup(t, { extra: `[mqtt]\nprotocol = ${protocol}\n` });
    const cat = sseCat(t, `${bridge.url}/overlap`, { count: 4 });
    await waitLog(bridge, subscribed('sensors/#'));
    await waitLog(bridge, subscribed('sensors/+/temperature'));
    await broker.pub('sensors/a/temperature', 'one'); // matches both filters
    await broker.pub('sensors/a/humidity', 'two'); // matches sensors/# only
    await broker.pub('sensors/b/temperature', 'three');
    await broker.pub('sensors/b/temperature', 'three'); // published twice: delivered twice
    assert.equal((await cat.done()).code, 0);
    assert.deepEqual(cat.events.map((e) => e.data), ['one', 'two', 'three', 'three']);
  });
}

test('a client cannot inject + or # (or a level separator) into a subscription', async (t) => {
  const { broker, bridge } = await setup(t);
  for (const path of ['/rooms/%2B', '/rooms/%23', '/rooms/a%2Bb', '/pick?topic=sensors/%2B/temperature',
    '/pick?topic=sensors/%23', '/pick?topic=%23', '/pick?topic=doors/a/b', '/pick?topic=sensors//temperature',
    '/pick?topic=sensors/../temperature']) {
    const res = await fetch(`${bridge.url}${path}`);
    assert.equal(res.status, 400, path);
    await res.text();
  }
  // One parameter is one level: the path is decoded before it is matched, so %2F makes two
  // segments, which no route has (404), and nothing is subscribed.
  const res = await fetch(`${bridge.url}/rooms/a%2Fb`);
  assert.equal(res.status, 404, `a/b as a room: ${res.status}`);
  assert.equal(await res.text(), 'no route for this path\n');
  assert.equal((await bridge.metrics()).topics, 0, 'no filter for a/b');
  // Exact topics named by the client are fine, and several share one connection.
  const cat = sseCat(t, `${bridge.url}/pick?topic=sensors/attic/temperature&topic=doors/front`, { count: 2 });
  await waitLog(bridge, subscribed('sensors/attic/temperature'));
  await waitLog(bridge, subscribed('doors/front'));
  await broker.pub('doors/front', 'open');
  await broker.pub('sensors/attic/temperature', '12');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => e.data), ['open', '12']);
});

test('event names from an MQTT 5 user property', async (t) => {
  const { broker, bridge } = await setup(t, { extra: '[mqtt]\nprotocol = 5\n' });
  const cat = sseCat(t, `${bridge.url}/props`, { count: 2 });
  await waitLog(bridge, subscribed('props'));
  await broker.pub('props', 'hot', { props: { kind: 'alert', other: 'x' } });
  await broker.pub('props', 'plain');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => [e.event, e.data]), [['alert', 'hot'], ['message', 'plain']]);
});

test('retained messages: every new client gets the current value first, unless the route says no', async (t) => {
  const { broker, bridge } = await setup(t);
  await broker.pub('sensors/hall/temperature', '{"value":19}', { retain: true });
  const first = sseCat(t, `${bridge.url}/rooms/hall`, { count: 2 });
  await first.waitEvents(1); // sent by the broker when the bridge subscribed
  // The subscription exists now: the broker sends nothing for the next clients; the bridge does.
  const second = sseCat(t, `${bridge.url}/rooms/hall`, { count: 2 });
  await second.waitEvents(1);
  const quiet = sseCat(t, `${bridge.url}/quiet/hall`, { count: 1 });
  await quiet.waitOpen();
  // A new retained value, published while the bridge is subscribed (it arrives as a live
  // message: MQTT clears the flag for existing subscriptions).
  await broker.pub('sensors/hall/temperature', '{"value":20}', { retain: true });
  for (const cat of [first, second, quiet]) assert.equal((await cat.done()).code, 0);
  assert.deepEqual(first.events.map((e) => e.data), ['19', '20']);
  assert.deepEqual(second.events.map((e) => e.data), ['19', '20']);
  assert.deepEqual(quiet.events.map((e) => e.data), ['{"value":20}']);
  // A later client gets the newest value, not the one retained at subscription time: from the
  // bridge while the filter is still subscribed, from the broker once it was dropped (linger).
  const third = sseCat(t, `${bridge.url}/rooms/hall`, { count: 1 });
  assert.equal((await third.done()).code, 0);
  assert.deepEqual(third.events.map((e) => e.data), ['20']);
});

test('payloads that are not UTF-8 are base64-encoded or rejected, per route, never sent raw', async (t) => {
  const { broker, bridge } = await setup(t);
  const b64 = sseCat(t, `${bridge.url}/bin64`, { count: 3 });
  const rej = sseCat(t, `${bridge.url}/binrej`, { count: 2 });
  // Both routes share the filter: its one log line says nothing of the second client.
  await waitLog(bridge, subscribed('bin'));
  await Promise.all([b64.waitOpen(), rej.waitOpen()]);
  await broker.pub('bin', Buffer.from([0xff, 0xfe, 0x00, 0x41]));
  await broker.pub('bin', Buffer.from('caf\xe9', 'latin1')); // Latin-1, not UTF-8
  await broker.pub('bin', 'caf\u00e9 \u2713'); // UTF-8: as is
  await broker.pub('bin', 'end');
  assert.equal((await b64.done()).code, 0);
  assert.equal((await rej.done()).code, 0);
  assert.deepEqual(b64.events.map((e) => e.data), ['//4AQQ==', 'Y2Fm6Q==', 'caf\u00e9 \u2713']);
  assert.deepEqual(rej.events.map((e) => e.data), ['caf\u00e9 \u2713', 'end']);
  assert.equal((await bridge.metrics()).messages_binary_total, 2);
});

test('the broker killed and restarted: clients stay connected, the bridge subscribes again', async (t) => {
  const { broker, bridge } = await setup(t);
  const cat = sseCat(t, `${bridge.url}/rooms/kitchen`, { count: 2 });
  await waitLog(bridge, subscribed('sensors/kitchen/temperature'));
  await broker.pub('sensors/kitchen/temperature', '{"value":1}');
  await cat.waitEvents(1);
  await broker.stop('SIGKILL');
  await waitFor(async () => (await (await fetch(`${bridge.url}/healthz`)).json()).mqtt === 'down',
    { what: 'healthz to report MQTT down' });
  await broker.start();
  await waitFor(() => bridge.log.filter((l) => subscribed('sensors/kitchen/temperature').test(l)).length >= 2,
    { what: 'the subscription made again' });
  await broker.pub('sensors/kitchen/temperature', '{"value":2}');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => [e.conn, e.data]), [[0, '1'], [0, '2']], 'one connection throughout');
  assert.equal((await bridge.metrics()).mqtt_reconnects_total, 1);
  assert.equal((await (await fetch(`${bridge.url}/healthz`)).json()).mqtt, 'up');
});

test('QoS 1 and a persistent session: what was published while the bridge was cut off arrives', async (t) => {
  const broker = await startMosquitto(t);
  const relay = await startRelay(t, broker.port);
  const { bridge } = await setup(t, { broker, mqttUrl: `mqtt://127.0.0.1:${relay.port}` });
  const cat = sseCat(t, `${bridge.url}/rooms/kitchen`, { count: 7 });
  await waitLog(bridge, subscribed('sensors/kitchen/temperature'));
  await broker.pub('sensors/kitchen/temperature', '{"value":0}');
  await cat.waitEvents(1);
  relay.cut();
  await waitFor(async () => (await (await fetch(`${bridge.url}/healthz`)).json()).mqtt === 'down',
    { what: 'healthz to report MQTT down' });
  for (let i = 1; i <= 5; i++) await broker.pub('sensors/kitchen/temperature', `{"value":${i}}`);
  relay.mend();
  await waitLog(bridge, /mqtt: connected to .*session resumed/);
  await broker.pub('sensors/kitchen/temperature', '{"value":6}');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => e.data), ['0', '1', '2', '3', '4', '5', '6']);
  assert.ok(cat.events.every((e) => e.conn === 0));
});

test('replay with Last-Event-ID on a journalled MQTT route', async (t) => {
  const { broker, bridge } = await setup(t);
  const first = sseCat(t, `${bridge.url}/journal/lab`, { count: 3 });
  await waitLog(bridge, subscribed('j/lab'));
  for (let i = 0; i < 3; i++) await broker.pub('j/lab', `m${i}`);
  assert.equal((await first.done()).code, 0);
  const last = first.events.at(-1).id;
  assert.match(last, /^\d+-\d+$/);
  for (let i = 3; i < 7; i++) await broker.pub('j/lab', `m${i}`); // nobody connected: journalled
  const back = sseCat(t, `${bridge.url}/journal/lab`, { count: 5, headers: [`Last-Event-ID: ${last}`] });
  await back.waitEvents(4);
  await broker.pub('j/lab', 'm7');
  assert.equal((await back.done()).code, 0);
  assert.deepEqual(back.events.map((e) => e.data), ['m3', 'm4', 'm5', 'm6', 'm7']);
  const ids = back.events.map((e) => e.id);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});

test('TLS: mqtts:// with a CA file and a client certificate; without the certificate, refused', async (t) => {
  const tls = makeCertificates(t);
  const broker = await startMosquitto(t, { tls });
  const redis = await startRedis(t);
  const mqtt = `[mqtt]\nurl = mqtts://127.0.0.1:${broker.port}\nca_file = ${tls.ca}\n`;
  const bridge = await startBridge(t, { redis, args: ['--log-level', 'debug'],
    config: `${config}${mqtt}cert_file = ${tls.clientCert}\nkey_file = ${tls.clientKey}\n` });
  const cat = sseCat(t, `${bridge.url}/rooms/vault`, { count: 1 });
  await waitLog(bridge, subscribed('sensors/vault/temperature'));
  await broker.pub('sensors/vault/temperature', '{"value":4}');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => e.data), ['4']);

  // The broker requires a client certificate: a bridge without one never gets in.
  const refused = await startBridge(t, { redis, healthy: false, config: config + mqtt });
  await waitLog(refused, /mqtt: 127\.0\.0\.1:\d+: .*reconnecting/);
  const res = await fetch(`${refused.url}/healthz`);
  assert.equal(res.status, 503);
  assert.equal((await res.json()).mqtt, 'down');
});

test('one connection over a Redis channel, a Redis stream and an MQTT topic resumes all three', async (t) => {
  const { redis, broker, bridge } = await setup(t);
  const pub = redis.client();
  const first = sseCat(t, `${bridge.url}/mixed`, { count: 3 });
  await waitLog(bridge, subscribed('mix/topic'));
  await waitFor(async () => Number((await pub.pubsub('NUMSUB', 'mix.chan'))[1]) === 1,
    { what: 'the channel subscribed' });
  await pub.publish('mix.chan', 'c1');
  await first.waitEvents(1);
  await pub.xadd('mix:stream', '*', 'data', 's1');
  await first.waitEvents(2);
  await broker.pub('mix/topic', 'm1');
  assert.equal((await first.done()).code, 0);
  assert.deepEqual(first.events.map((e) => [e.event, e.data]),
    [['mix.chan', 'c1'], ['mix:stream', 's1'], ['mix/topic', 'm1']]);
  const last = first.events.at(-1).id;
  assert.match(last, /^\d+-\d+,\d+-\d+,\d+-\d+$/, 'one position per topic');
  // Missed while away, on all three (the channel and topic stay journalled during the linger).
  await pub.publish('mix.chan', 'c2');
  await pub.xadd('mix:stream', '*', 'data', 's2');
  await broker.pub('mix/topic', 'm2');
  await waitFor(async () => (await pub.xlen('sse:journal:m:mix/topic')) >= 2, { what: 'm2 journalled' });
  const back = sseCat(t, `${bridge.url}/mixed`, { count: 4, headers: [`Last-Event-ID: ${last}`] });
  await back.waitEvents(3);
  await pub.publish('mix.chan', 'c3');
  assert.equal((await back.done()).code, 0);
  assert.deepEqual(back.events.map((e) => e.data).slice(0, 3).sort(), ['c2', 'm2', 's2']);
  assert.equal(back.events[3].data, 'c3');
});

test('Redis restarting leaves the MQTT subscriptions alone', async (t) => {
  const { redis, broker, bridge } = await setup(t);
  const cat = sseCat(t, `${bridge.url}/rooms/kitchen`, { count: 2 });
  await waitLog(bridge, subscribed('sensors/kitchen/temperature'));
  await broker.pub('sensors/kitchen/temperature', '{"value":1}');
  await cat.waitEvents(1);
  await redis.stop();
  await redis.start();
  await waitFor(async () => (await fetch(`${bridge.url}/healthz`)).status === 200,
    { what: 'the bridge healthy again' });
  await broker.pub('sensors/kitchen/temperature', '{"value":2}');
  assert.equal((await cat.done()).code, 0);
  assert.deepEqual(cat.events.map((e) => e.data), ['1', '2']);
  assert.ok(!bridge.log.some((l) => /redis: subscribe sensors/.test(l)), 'an MQTT filter sent to Redis');
});

test('a live message too large to deliver does not replace the retained value', async (t) => {
  const { broker, bridge } = await setup(t,
    { extra: '[bridge]\nmax_message_size = 16KiB\nclient_buffer = 64KiB\n' });
  await broker.pub('sensors/big/temperature', '{"value":7}', { retain: true });
  const first = sseCat(t, `${bridge.url}/rooms/big`, { count: 1 });
  assert.equal((await first.done()).code, 0);
  const stay = sseCat(t, `${bridge.url}/rooms/big`, { count: 2 }); // keeps the filter subscribed
  await stay.waitEvents(1);
  await broker.pub('sensors/big/temperature', `{"value":"${'x'.repeat(100000)}"}`); // dropped
  await waitFor(async () => (await bridge.metrics()).messages_dropped_total === 1, { what: 'the drop' });
  const later = sseCat(t, `${bridge.url}/rooms/big`, { count: 1 });
  assert.equal((await later.done()).code, 0, 'not cut off by a retained value past its buffer');
  assert.deepEqual(later.events.map((e) => e.data), ['7']);
  assert.equal((await bridge.metrics()).clients_slow_cut_total, 0);
});

test('a filter dropped while the broker was away is unsubscribed from the persistent session', async (t) => {
  const broker = await startMosquitto(t);
  const relay = await startRelay(t, broker.port);
  // A plain Redis route with the same linger, as a clock: see below.
  const { redis, bridge } = await setup(t, { broker, mqttUrl: `mqtt://127.0.0.1:${relay.port}`,
    extra: '[route probe]\npath = /probe/{c}\nchannel = probe.{c}\n' });
  const pub = redis.client();
  const attic = subscribed('sensors/attic/temperature');
  const cat = sseCat(t, `${bridge.url}/rooms/attic`);
  await waitLog(bridge, attic);
  relay.cut();
  await waitFor(async () => (await (await fetch(`${bridge.url}/healthz`)).json()).mqtt === 'down',
    { what: 'healthz to report MQTT down' });
  await cat.stop(); // the last client goes while the broker is away
  await waitFor(async () => (await bridge.metrics()).clients === 0, { what: 'the client gone' });
  // The filter's linger (200 ms) must run out before the broker is back, or the bridge would
  // simply subscribe again and drop it later, never exercising "dropped while away". A Redis
  // channel left after it, with the same linger, is unsubscribed once its own linger is past
  // on the bridge's clock: then the filter's is too.
  const probe = sseCat(t, `${bridge.url}/probe/clock`);
  await probe.waitOpen();
  await waitSubscribed(pub, 'probe.clock', 1);
  await probe.stop();
  await waitSubscribed(pub, 'probe.clock', 0, { what: 'the probe channel dropped after its linger' });
  relay.mend();
  await waitLog(bridge, /mqtt: unsubscribed from sensors\/attic\/temperature/);
  assert.equal(bridge.log.filter((l) => attic.test(l)).length, 1,
    'unsubscribed at once, not subscribed again first');
  await waitFor(async () => (await bridge.metrics()).topics === 0, { what: 'the filter forgotten' });
});

for (const [protocol, want] of [
  // 3.1.1: the broker kept the session and queued m1 (QoS 1) while the bridge was cut off.
  ['3.1.1', [['message', 'm0'], ['message', 'm1'], ['message', 'm2']]],
  // 5: the session ended with the connection (README, MQTT), m1 is lost, and the journalled
  // route's clients are told, live and in a replay across the outage.
  ['5', [['message', 'm0'], ['gap', '{"topic":"j/lab","reason":"journal-resumed"}'], ['message', 'm2']]],
]) {
  test(`a journalled MQTT route across a lost connection (MQTT ${protocol}): ${
    protocol === '5' ? 'the session is lost, a gap event' : 'the session kept, no gap'}`, async (t) => {
    const broker = await startMosquitto(t);
    const relay = await startRelay(t, broker.port);
    const { bridge } = await setup(t, { broker, mqttUrl: `mqtt://127.0.0.1:${relay.port}`,
      extra: `[mqtt]\nprotocol = ${protocol}\n` });
    const live = sseCat(t, `${bridge.url}/journal/lab`, { count: 3 });
    await waitLog(bridge, subscribed('j/lab'));
    await broker.pub('j/lab', 'm0');
    await live.waitEvents(1);
    const before = live.events[0].id;
    relay.cut();
    await waitFor(async () => (await (await fetch(`${bridge.url}/healthz`)).json()).mqtt === 'down',
      { what: 'healthz to report MQTT down' });
    await broker.pub('j/lab', 'm1'); // while the bridge is away
    relay.mend();
    await waitLog(bridge, new RegExp(`mqtt: connected to .*MQTT ${protocol.replaceAll('.', '\\.')}, session ${
      protocol === '5' ? 'new' : 'resumed'}`));
    await waitFor(() => bridge.log.filter((l) => subscribed('j/lab').test(l)).length >= 2,
      { what: 'the filter subscribed again' });
    await live.waitEvents(2);
    await broker.pub('j/lab', 'm2');
    assert.equal((await live.done()).code, 0);
    assert.deepEqual(live.events.map((e) => [e.event, e.data]), want);
    assert.ok(live.events.every((e) => /^\d+-\d+$/.test(e.id)), 'every event has its journal id');
    // A client that saw m0 and comes back is told the same, from the journal.
    const back = sseCat(t, `${bridge.url}/journal/lab`, { count: 2, headers: [`Last-Event-ID: ${before}`] });
    assert.equal((await back.done()).code, 0);
    assert.deepEqual(back.events.map((e) => [e.event, e.data]), want.slice(1));
    // The same entries (the gap's id may differ: the one sent live is not the marker's id in
    // the journal, which is written with the next message).
    const messageIds = (events) => events.filter((e) => e.event !== 'gap').map((e) => e.id);
    assert.deepEqual(messageIds(back.events), messageIds(live.events.slice(1)));
  });
}

test('the default MQTT client id is sse-bridge-<hostname>-<listen port>', async (t) => {
  const broker = await startMosquitto(t, { logType: 'notice' });
  const redis = await startRedis(t);
  // Not on port 0 here: the id holds the configured port (see the harness).
  const port = await freePort();
  const bridge = await startBridge(t, { redis, port, pinMqttClientId: false,
    config: '[route r]\npath = /r\nmqtt_topic = r\nstatic = true\n', args: ['--mqtt', broker.url] });
  assert.equal(bridge.port, port);
  const id = `sse-bridge-${hostname()}-${port}`;
  await waitFor(() => broker.log.some((l) => l.includes(` as ${id} `)),
    { what: `a client ${id} on the broker (log: ${broker.log.slice(-3).join(' | ')})` });
  assert.ok(broker.log.some((l) => new RegExp(`as ${id} \\(p2, c0,`).test(l)),
    'MQTT 3.1.1 (p2) with a persistent session (c0)');
  // On port 0 the id holds the port the kernel gave, so that two such bridges differ.
  const free = await startBridge(t, { redis, pinMqttClientId: false,
    config: '[route r]\npath = /r\nmqtt_topic = r\nstatic = true\n', args: ['--mqtt', broker.url] });
  const freeId = `sse-bridge-${hostname()}-${free.port}`;
  assert.notEqual(free.port, 0);
  await waitFor(() => broker.log.some((l) => l.includes(` as ${freeId} `)),
    { what: `a client ${freeId} on the broker` });
  assert.ok(!broker.log.some((l) => l.includes(` as sse-bridge-${hostname()}-0 `)));
});
