// Prints the daily ledger (台账) of a running agent to PDF from headless Chromium, the way
// staff do: log in on the staff page, follow its ledger link, print.
//
// Environment: DASHBOARD_URL (http://127.0.0.1:PORT), STAFF and PIN (a staff member who can
// log in), DATE (the local date to print), OUT_DIR (where ledger.pdf goes), CHROMIUM
// (default /usr/bin/chromium).
//
// Protocol with the Rust test that runs it (tests/tests/ledger_browser.rs): one line
// `DONE {json}` on stdout once the PDF is written. Any failure exits non-zero with the
// reason on stderr.

import { chromium } from 'playwright-core';
import path from 'node:path';
import fs from 'node:fs';

const url = process.env.DASHBOARD_URL;
const staff = process.env.STAFF;
const pin = process.env.PIN;
const date = process.env.DATE;
const out = process.env.OUT_DIR || '.';
if (!url || !staff || !pin || !date) {
  console.error('DASHBOARD_URL, STAFF, PIN and DATE are required');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const result = {};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(url)) outside.push(r.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const refused = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) refused.push(m.text()); });

  // Not logged in: the staff page offers no ledger, and the ledger itself says to log in.
  await page.goto(url + '/');
  await page.locator('#conn.live').waitFor({ timeout: 10000 });
  if (await page.locator('#ledger-link:visible').count() !== 0) throw new Error('a ledger link before login');
  const anon = await page.goto(url + '/ledger?date=' + date);
  if (anon.status() !== 401) throw new Error(`ledger without a session: ${anon.status()}`);
  if ((await page.content()).includes('小明')) throw new Error('a child name without a session');

  // Log in on the page, then follow its link.
  await page.goto(url + '/');
  await page.locator('#conn.live').waitFor({ timeout: 10000 });
  await page.click('#login-btn');
  await page.locator('dialog#login[open]').waitFor({ timeout: 5000 });
  await page.fill('#staff', staff);
  await page.fill('#pin', pin);
  await page.click('#login-submit');
  const link = page.locator('#ledger-link');
  await link.waitFor({ state: 'visible', timeout: 10000 });
  result.link = await link.textContent();
  await link.click();
  await page.waitForURL(/\/ledger/, { timeout: 10000 });
  await page.locator('h1').waitFor({ timeout: 10000 });
  // Today by default; then the date asked for, through the page's own date form.
  await page.fill('input[name=date]', date);
  await Promise.all([page.waitForURL(new RegExp('date=' + date)), page.click('nav.screen button[type=submit]')]);
  const h1 = await page.locator('h1').textContent();
  if (!h1.includes('托育机构每日台账')) throw new Error(`ledger heading: ${h1}`);
  // The inline style applies (the policy allows it): A4 print rules are in force.
  const headerGroup = await page.evaluate(() => getComputedStyle(document.querySelector('thead')).display);
  if (headerGroup !== 'table-header-group') throw new Error(`thead display: ${headerGroup}`);

  await page.emulateMedia({ media: 'print' });
  if (await page.locator('nav.screen').isVisible()) throw new Error('the date form prints');
  const pdf = path.join(out, 'ledger.pdf');
  await page.pdf({ path: pdf, preferCSSPageSize: true, printBackground: true });
  result.pdf = pdf;
  await page.emulateMedia({ media: 'screen' });
  await page.screenshot({ path: path.join(out, 'ledger.png'), fullPage: true });

  if (outside.length) throw new Error(`requests outside the agent: ${outside.join(', ')}`);
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  if (refused.length) throw new Error(`refused by the page's policy: ${refused.join('; ')}`);
  console.log('DONE ' + JSON.stringify(result));
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
