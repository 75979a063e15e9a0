// The first-run check of `make run`: opens the console of an `atom dev`
// and waits until the dashboard shows events flowing (a listener's
// processed count rising on its own, with no reload), then saves a
// screenshot. Settings: ATOM_URL, SCREENSHOTS, CHROMIUM.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const url = (process.env.ATOM_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const shots = process.env.SCREENSHOTS || path.resolve('screenshots');
fs.mkdirSync(shots, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'atom-dev-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${url}/console/`);
  const processed = async () => {
    const counts = await page.locator('article.listener [data-count="processed"]').allTextContents();
    return counts.reduce((n, t) => n + Number(t.replace(/[^0-9]/g, '') || 0), 0);
  };
  const deadline = Date.now() + 20000;
  let first = -1;
  let now = 0;
  while (Date.now() < deadline) {
    now = await processed();
    if (first < 0 && now > 0) first = now;
    if (first > 0 && now > first) break;
    await page.waitForTimeout(200);
  }
  if (!(first > 0 && now > first)) {
    throw new Error(`no events flowing on the dashboard: processed ${first} then ${now}`);
  }
  const cards = await page.locator('article.listener').count();
  await page.screenshot({ path: path.join(shots, 'dev-dashboard.png'), fullPage: true });
  process.stdout.write(JSON.stringify({ ok: true, listeners: cards, processed: now }) + '\n');
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
