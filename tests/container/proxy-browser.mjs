// The browser half of the proxy check of tests/container/run.sh: headless Chromium (Debian's,
// driven by playwright-core) opens https://127.0.0.1:PORT/ through nginx (TLS, HTTP/2) in front
// of two bridge replicas, and 12 EventSources on that page. It prints one JSON line per step
// and waits on stdin for the script's commands, so that run.sh publishes and kills a replica in
// between:
//   node tests/container/proxy-browser.mjs https://127.0.0.1:PORT
// stdin "wait N\n": wait (20 s at most) until every stream has N events, then print the verdict:
// each stream's seqs exactly 0..N-1 (no gap, no duplicate), no gap event; "quit\n": close the
// browser.
// Exit 0 after "quit"; 1 when the page cannot open its streams.
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const base = process.argv[2];
const STREAMS = 12;
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
    '--disable-default-apps', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
    '--disable-quic'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true }); // the test certificate
  const page = await context.newPage();
  const response = await page.goto(`${base}/healthz`);
  say({ step: 'page', status: response.status(), protocol: await page.evaluate(
    () => performance.getEntriesByType('navigation')[0].nextHopProtocol) });
  await page.evaluate((n) => {
    window.streams = [];
    for (let i = 0; i < n; i++) {
      const s = { opened: 0, errors: 0, events: [] };
      const es = new EventSource(`/events/proxy.${i}`);
      es.onopen = () => { s.opened++; };
      es.onerror = () => { s.errors++; };
      es.onmessage = (e) => s.events.push({ id: e.lastEventId, data: e.data });
      es.addEventListener('gap', (e) => s.events.push({ gap: e.data, id: e.lastEventId }));
      window.streams.push(s);
    }
  }, STREAMS);
  const deadline = Date.now() + 15000;
  let open = 0;
  while (Date.now() < deadline && (open = await page.evaluate(
    () => window.streams.filter((s) => s.opened > 0).length)) < STREAMS)
    await new Promise((r) => setTimeout(r, 50));
  say({ step: 'open', open });
  if (open < STREAMS) process.exitCode = 1;
  for await (const line of createInterface({ input: process.stdin })) {
    const wait = /^wait (\d+)$/.exec(line);
    if (wait) {
      const n = Number(wait[1]);
      const until = Date.now() + 20000;
      let streams;
      while ((streams = await page.evaluate(() => window.streams)).some((st) =>
        st.events.filter((e) => !e.gap).length < n) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 100));
      const summary = streams.map((st) => {
        const seqs = st.events.filter((e) => !e.gap).map((e) => JSON.parse(e.data).seq);
        return { opened: st.opened, gaps: st.events.filter((e) => e.gap).length,
          events: seqs.length, exact: seqs.length === n && seqs.every((x, k) => x === k) };
      });
      say({ step: 'verdict', ok: summary.every((x) => x.exact && x.gaps === 0),
        reconnected: summary.filter((x) => x.opened > 1).length, streams: summary });
    } else if (line === 'quit') {
      break;
    }
  }
} finally {
  await browser.close();
}
