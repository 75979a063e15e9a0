// Drives the Atom console in Debian's headless Chromium, for the browser
// test in ../e2e_test.go, which starts the atom and runs this script.
//
// Settings come from the environment (or the first argument, the atom's
// URL): ATOM_URL, ATOM_TOKEN, SCREENSHOTS (a folder), CHROMIUM (default
// /usr/bin/chromium), LISTENER (to pause and resume), OTHER_LISTENER,
// PROCESS (to draw and test-run), EVENTS (how many the test publishes while
// paused), SECRET (a literal secret of the deployment that must never
// show), EXPECT_PAIR ("source=>target" of the process's mapping), SAMPLE
// (the test run's JSON body).
//
// The script prints one JSON line per step. Where the scenario needs the
// world to change (publish events, heal the sink), it prints
// {"ask": "..."} and waits for the test's JSON answer on stdin; an answer
// with "error" fails the scenario.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const env = process.env;
const cfg = {
  url: (env.ATOM_URL || process.argv[2] || 'http://127.0.0.1:8080').replace(/\/$/, ''),
  token: env.ATOM_TOKEN || '',
  shots: env.SCREENSHOTS || path.resolve('screenshots'),
  chromium: env.CHROMIUM || '/usr/bin/chromium',
  listener: env.LISTENER || '',
  other: env.OTHER_LISTENER || '',
  process: env.PROCESS || '',
  events: Number(env.EVENTS || 5),
  secret: env.SECRET || '',
  pair: (env.EXPECT_PAIR || '').split('=>'),
  sample: env.SAMPLE || '{}',
};
const TIMEOUT = 20000;

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

// ask tells the test what is needed and waits for its answer.
async function ask(what, data = {}) {
  say({ ask: what, ...data });
  const { value, done } = await lines.next();
  if (done) throw new Error(`no answer to ${what}: stdin closed`);
  const answer = JSON.parse(value);
  if (answer.error) throw new Error(answer.error);
  return answer;
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const cardSel = (name) => `article.listener[data-listener="${name.replace(/"/g, '\\"')}"]`;
const num = (text) => Number(String(text).replace(/[^0-9]/g, '') || 'NaN');

async function count(page, listener, key) {
  return num(await page.locator(`${cardSel(listener)} [data-count="${key}"]`).textContent());
}

async function shot(page, name, fullPage = true) {
  // From the top, so that the sticky header sits where it belongs, and
  // without the toasts of earlier actions (hidden as the console hides
  // them: the page's CSP refuses an injected style).
  await page.evaluate(() => {
    window.scrollTo(0, 0);
    const t = document.getElementById('toast');
    t.className = 'toast';
    t.textContent = '';
  });
  await page.screenshot({ path: path.join(cfg.shots, name + '.png'), fullPage, animations: 'disabled' });
  say({ step: 'screenshot', file: name + '.png' });
}

async function waitCount(page, listener, key, pred, what) {
  const deadline = Date.now() + TIMEOUT;
  let n;
  while (Date.now() < deadline) {
    n = await count(page, listener, key);
    if (pred(n)) return n;
    await page.waitForTimeout(100);
  }
  throw new Error(`timed out waiting for ${what} (${key} is ${n})`);
}

// Waits until the dashboard has refreshed itself twice (its "updated"
// label changed), so that what it shows after is live, not stale.
async function waitTwoRefreshes(page) {
  const label = page.locator('.live');
  for (let i = 0; i < 2; i++) {
    const before = await label.textContent();
    await page.waitForFunction((b) => document.querySelector('.live')?.textContent !== b, before, { timeout: TIMEOUT });
  }
}

async function main() {
  fs.mkdirSync(cfg.shots, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'atom-console-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: cfg.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // 401s are expected before the token is given; the console handles them.
    if (msg.type() === 'error' && !/401/.test(msg.text())) problems.push(`console error: ${msg.text()}`);
  });
  page.on('dialog', (d) => d.accept()); // the confirms of discard, retry all, rollback

  try {
    // 1. The dashboard asks for the token, then shows the listener running.
    await page.goto(`${cfg.url}/console/`);
    say({ step: 'opened' });
    const dialog = page.locator('#token-dialog');
    await dialog.waitFor({ state: 'visible' });
    await shot(page, 'token-prompt', false);
    // Cancelled, the page says why it shows nothing, with the API's code,
    // and offers the prompt again.
    await page.click('#token-dialog button[value="cancel"]');
    const refused = page.locator('main .error', { hasText: 'unauthorized' });
    await refused.waitFor();
    await shot(page, 'unauthorized', false);
    await refused.locator('button', { hasText: 'Enter the API token' }).click();
    await dialog.waitFor({ state: 'visible' });
    await page.fill('#token-input', cfg.token);
    await page.click('#token-dialog button[value="ok"]');
    await page.locator(`${cardSel(cfg.listener)}[data-state="running"]`).waitFor();
    if (cfg.other) await page.locator(cardSel(cfg.other)).waitFor();
    const received0 = await count(page, cfg.listener, 'received');
    const processed0 = await count(page, cfg.listener, 'processed');
    say({ step: 'listener running', received: received0, processed: processed0 });
    await shot(page, 'dashboard', false);

    // 2. Pause it; events published now must wait.
    await page.click(`${cardSel(cfg.listener)} button[data-action="pause"]`);
    await page.locator(`${cardSel(cfg.listener)}[data-state="paused"]`).waitFor();
    say({ step: 'paused' });
    await ask('publish');
    await waitTwoRefreshes(page);
    const received1 = await count(page, cfg.listener, 'received');
    const processed1 = await count(page, cfg.listener, 'processed');
    check(received1 === received0 && processed1 === processed0,
      `counts moved while paused: received ${received0}→${received1}, processed ${processed0}→${processed1}`);
    await ask('check-paused', { processed: processed1 });
    say({ step: 'events wait while paused', received: received1, processed: processed1 });
    await shot(page, 'dashboard-paused', false);

    // 3. Resume: the counts rise to include every event published.
    await page.click(`${cardSel(cfg.listener)} button[data-action="resume"]`);
    await page.locator(`${cardSel(cfg.listener)}[data-state="running"]`).waitFor();
    const processed2 = await waitCount(page, cfg.listener, 'processed', (n) => n >= processed0 + cfg.events,
      `every one of the ${cfg.events} events to be processed`);
    const received2 = await count(page, cfg.listener, 'received');
    check(received2 >= received0 + cfg.events, `received ${received2}, want at least ${received0 + cfg.events}`);
    await ask('check-delivered');
    say({ step: 'resumed and processed', received: received2, processed: processed2 });
    await shot(page, 'dashboard-resumed', false);

    // 4. Pause all and resume all.
    await page.click('#pause-all');
    await page.waitForFunction(() => [...document.querySelectorAll('article.listener')].every((c) => c.dataset.state === 'paused'));
    await page.click('#resume-all');
    await page.waitForFunction(() => [...document.querySelectorAll('article.listener')].every((c) => c.dataset.state === 'running'));
    say({ step: 'pause all and resume all' });

    // 5. The process page draws the flow and the mapping table.
    await page.goto(`${cfg.url}/console/#/processes/${encodeURIComponent(cfg.process)}`);
    await page.locator('svg.flow g.node').first().waitFor();
    const flow = await page.evaluate(() => {
      const nodes = [...document.querySelectorAll('svg.flow g.node')];
      const boxes = nodes.map((g) => g.getBoundingClientRect());
      let overlaps = 0;
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i];
          const b = boxes[j];
          if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps++;
        }
      }
      return {
        kinds: nodes.map((g) => g.dataset.kind),
        edges: document.querySelectorAll('svg.flow path.edge').length,
        labels: [...document.querySelectorAll('svg.flow .edge-label text')].map((t) => t.textContent),
        overlaps,
      };
    });
    for (const kind of ['start', 'map', 'set', 'route', 'send', 'end']) {
      check(flow.kinds.includes(kind), `the flow has no ${kind} node: ${flow.kinds.join(', ')}`);
    }
    check(flow.kinds.includes('call') || flow.kinds.includes('subprocess'), `the flow shows no sub-process: ${flow.kinds.join(', ')}`);
    check(flow.edges >= flow.kinds.length - 1, `only ${flow.edges} edges for ${flow.kinds.length} nodes`);
    check(flow.overlaps === 0, `${flow.overlaps} pairs of flow nodes overlap`);
    if (cfg.pair.length === 2) {
      const row = page.locator('table.pairs tbody tr', { hasText: cfg.pair[0] }).filter({ hasText: cfg.pair[1] });
      await row.first().waitFor();
    }
    const yaml = await page.locator('pre.yaml').textContent();
    check(yaml.includes('kind: Process'), 'the process YAML is missing');
    say({ step: 'process drawn', nodes: flow.kinds.length, edges: flow.edges, edgeLabels: flow.labels });
    await shot(page, 'process');

    // The layout of a wider flow than the deployment's: a route into three
    // cases, a case skipped, a branch into four long-labelled paths, and a
    // loop back up. No two nodes overlap, every edge but the loop goes down,
    // and everything lies inside the drawing.
    const layout = await page.evaluate(async () => {
      const { layout, renderFlow } = await import('./js/flow.js');
      const g = { nodes: [], edges: [] };
      const add = (id, kind, label) => g.nodes.push({ id, kind, label: label || `${kind} ${id}` });
      const link = (from, to, label) => g.edges.push({ from, to, label });
      add('start', 'start'); add('r', 'route'); link('start', 'r');
      add('m', 'set'); add('br', 'branch'); add('end', 'end');
      for (let c = 0; c < 3; c++) {
        add(`c${c}a`, 'map'); add(`c${c}b`, 'send');
        link('r', `c${c}a`, `when body.kind == "case ${c}"`); link(`c${c}a`, `c${c}b`); link(`c${c}b`, 'm');
      }
      link('r', 'm', 'no match'); link('m', 'br');
      for (let p = 0; p < 4; p++) {
        add(`p${p}`, 'log', `a long label for the log step of path number ${p}`);
        link('br', `p${p}`, `path ${p + 1}`); link(`p${p}`, 'end');
      }
      link('p0', 'r', 'again');
      const L = layout(g);
      const byId = new Map(L.nodes.map((n) => [n.id, n]));
      let overlaps = 0;
      for (const a of L.nodes) {
        for (const b of L.nodes) {
          if (a !== b && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) overlaps++;
        }
      }
      const upward = L.edges.filter((e) => !e.back && byId.get(e.to).rank <= byId.get(e.from).rank).length;
      const outside = L.nodes.filter((n) => n.x < 0 || n.y < 0 || n.x + n.w > L.width || n.y + n.h > L.height).length;
      document.querySelector('#flow-h').parentElement.append(renderFlow(g, 'wide'));
      return { overlaps, upward, outside, back: L.edges.filter((e) => e.back).length, ranks: L.ranks };
    });
    await page.evaluate(() => { document.querySelector('.top').style.position = 'static'; });
    await page.locator('svg.flow').nth(1).screenshot({ path: path.join(cfg.shots, 'flow-wide.png') });
    await page.evaluate(() => { document.querySelector('.top').style.position = ''; });
    check(layout.overlaps === 0 && layout.upward === 0 && layout.outside === 0 && layout.back === 1 && layout.ranks === 8,
      `layout of a wide flow: ${JSON.stringify(layout)}`);

    // 6. A test run from the form shows every step.
    await page.goto(`${cfg.url}/console/#/test?process=${encodeURIComponent(cfg.process)}`);
    await page.locator('#tr-run').waitFor();
    check(await page.locator('#tr-process').inputValue() === cfg.process, 'the test run form did not preselect the process');
    check(!(await page.locator('#tr-live').isChecked()), 'live is ticked by default');
    await page.fill('#tr-body', cfg.sample);
    await page.fill('#tr-props', '{"replayId": "test-1"}');
    await page.click('#tr-run');
    await page.locator('#tr-result li.step').first().waitFor();
    const steps = await page.$$eval('#tr-result li.step', (els) => els.map((e) => ({ kind: e.dataset.kind, status: e.dataset.status, path: e.dataset.path })));
    check(steps.some((s) => s.kind === 'map' && s.status === 'ok'), `no map step in the trace: ${JSON.stringify(steps)}`);
    check(steps.some((s) => s.kind === 'send'), `no send step in the trace: ${JSON.stringify(steps)}`);
    const status = await page.locator('#tr-result h2 .badge').textContent();
    check(status === 'ok', `test run status ${status}, want ok`);
    const out = await page.locator('#tr-result li.step[data-kind="map"] pre').allTextContents();
    check(out.some((t) => t.includes('"orderId"')), 'the map step shows no output with orderId');
    say({ step: 'test run traced', steps: steps.length });
    await shot(page, 'test-run');

    // A bad JSON body is refused in the form, with a clear message.
    await page.fill('#tr-body', '{"oops": ');
    await page.click('#tr-run');
    await page.locator('#tr-result .error', { hasText: 'not valid JSON' }).waitFor();
    check(await page.locator('#tr-body').getAttribute('aria-invalid') === 'true', 'the bad body is not marked invalid');

    // 7. A dead letter, retried once the sink accepts it.
    const poison = await ask('poison');
    await page.goto(`${cfg.url}/console/#/dead-letters`);
    const row = page.locator(`tr[data-dead-letter="${poison.id}"]`);
    await row.waitFor();
    await shot(page, 'dead-letters');
    await row.locator('a').first().click();
    await page.locator('h1', { hasText: `Dead letter ${poison.id}` }).waitFor();
    await shot(page, 'dead-letter');
    await page.goBack();
    await row.waitFor();
    await ask('heal');
    await row.locator('button', { hasText: 'Retry' }).click();
    await row.waitFor({ state: 'detached' });
    await page.locator('#dl-results .empty').waitFor();
    say({ step: 'dead letter retried', id: poison.id });
    await shot(page, 'dead-letters-empty');

    // One the sink always refuses: "retry all" leaves it, with one more
    // attempt and the error, and discarding it (confirmed) empties the list.
    const kept = await ask('refuse');
    await page.goto(`${cfg.url}/console/#/dead-letters?process=${encodeURIComponent(cfg.process)}`);
    const refusedRow = page.locator(`tr[data-dead-letter="${kept.id}"]`);
    await refusedRow.waitFor();
    await page.click('#retry-all');
    await page.locator('#toast', { hasText: '0 processed, 1 failed again' }).waitFor();
    await page.locator(`tr[data-dead-letter="${kept.id}"] td[data-label="Attempts"]`, { hasText: '2' }).waitFor();
    await refusedRow.locator('button', { hasText: 'Discard' }).click();
    await refusedRow.waitFor({ state: 'detached' });
    await page.locator('#dl-results .empty').waitFor();
    say({ step: 'dead letter retried in vain and discarded', id: kept.id });

    // 8. Executions, searched by a tracked property: the failed run and
    // the retry of the poison order share its replay ID.
    await page.goto(`${cfg.url}/console/#/executions?prop=replayId&value=${encodeURIComponent(poison.replayId)}`);
    await page.locator('#ex-results tbody tr').first().waitFor();
    const statuses = await page.$$eval('#ex-results tbody tr', (els) => els.map((e) => e.dataset.status));
    check(statuses.includes('failed') && statuses.includes('ok'), `executions of the poison order: ${statuses.join(', ')}, want failed and ok`);
    await shot(page, 'executions');
    await page.locator('#ex-results tbody tr[data-status="failed"] a').first().click();
    await page.locator('ol.trace li.step-failed').first().waitFor();
    await shot(page, 'execution');

    // 9. Deployments and one listener's page.
    await page.goto(`${cfg.url}/console/#/deployments`);
    await page.locator('tr[data-version] .badge-active').waitFor();
    await shot(page, 'deployments');
    await page.goto(`${cfg.url}/console/#/listeners/${encodeURIComponent(cfg.listener)}`);
    await page.locator('h1', { hasText: cfg.listener }).waitFor();
    await page.locator('#offset-h').waitFor();
    // Its position can be set while it is paused, and the change is listed.
    await page.click('main .page-head button[data-action="pause"]');
    await page.locator('main .page-head button[data-action="resume"]').waitFor();
    await page.locator('main dl.meta.panel .badge[data-state="paused"]').waitFor();
    const position = (await page.locator('main dl.meta.panel dd .mono').first().textContent()).trim();
    check(/^\d+$/.test(position), `no committed position shown on the listener page: "${position}"`);
    await page.fill('main form input[type="text"]', position);
    await page.click('main form button[type="submit"]');
    await page.locator('section tr', { hasText: position }).first().waitFor();
    await shot(page, 'listener');
    await page.click('main .page-head button[data-action="resume"]');
    await page.locator('main .page-head button[data-action="pause"]').waitFor();

    // Nothing the console showed may hold the deployment's literal secret.
    if (cfg.secret) {
      for (const p of ['#/processes/' + encodeURIComponent(cfg.process), '#/deployments/1']) {
        await page.goto(`${cfg.url}/console/${p}`);
        await page.locator('pre.yaml').first().waitFor();
        const html = await page.content();
        check(!html.includes(cfg.secret), `the console shows the literal secret on ${p}`);
      }
    }

    // The dashboard after it all, for the README.
    await page.goto(`${cfg.url}/console/#/`);
    await page.locator(`${cardSel(cfg.listener)}[data-state="running"]`).waitFor();
    await waitTwoRefreshes(page);
    await shot(page, 'dashboard-final', false);

    // 10. A phone: the pages fit the width, nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${cfg.url}/console/#/`);
    await page.locator(`${cardSel(cfg.listener)}[data-state="running"]`).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `the dashboard is ${overflow}px wider than a phone screen`);
    await shot(page, 'dashboard-phone');
    await page.goto(`${cfg.url}/console/#/processes/${encodeURIComponent(cfg.process)}`);
    await page.locator('svg.flow g.node').first().waitFor();
    const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow2 <= 1, `the process page is ${overflow2}px wider than a phone screen`);
    await shot(page, 'process-phone');
    for (const [route, ready, name] of [
      ['#/processes', 'main table', ''],
      ['#/test?process=' + encodeURIComponent(cfg.process), '#tr-run', 'test-run-phone'],
      ['#/executions', '#ex-results table', 'executions-phone'],
      ['#/dead-letters', '#dl-results .empty', ''],
      ['#/deployments', 'main table', ''],
      ['#/listeners/' + encodeURIComponent(cfg.listener), '#history-h', ''],
    ]) {
      await page.goto(`${cfg.url}/console/${route}`);
      await page.locator(ready).first().waitFor();
      const wider = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(wider <= 1, `${route} is ${wider}px wider than a phone screen`);
      if (name) await shot(page, name);
    }

    // Dark, as a browser set to a dark theme shows it.
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${cfg.url}/console/#/processes/${encodeURIComponent(cfg.process)}`);
    await page.locator('svg.flow g.node').first().waitFor();
    await shot(page, 'process-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // 11. With nothing deployed, the pages say so and what to do.
    await ask('undeploy');
    await page.goto(`${cfg.url}/console/#/`);
    await page.locator('#listeners .empty', { hasText: 'No listeners yet' }).waitFor();
    const hint = await page.locator('#listeners .empty').textContent();
    check(hint.includes('atom deploy') && hint.includes('POST /api/deployments'), `the empty dashboard says: ${hint}`);
    await shot(page, 'dashboard-empty', false);
    await page.goto(`${cfg.url}/console/#/processes`);
    await page.locator('main .empty', { hasText: 'No processes deployed' }).waitFor();

    check(!problems.length, `the page reported errors:\n${problems.join('\n')}`);
    say({ step: 'done' });
  } catch (err) {
    await page.screenshot({ path: path.join(cfg.shots, 'failure.png'), fullPage: true }).catch(() => {});
    say({ step: 'failed', error: String(err && err.stack || err), problems, url: page.url() });
    process.exitCode = 1;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
    process.stdin.destroy();
  }
}

main();
