// Drives the staff page of a running agent in headless Chromium.
//
// Environment: DASHBOARD_URL (http://127.0.0.1:PORT), STAFF and PIN (a staff member who can
// log in), OUT_DIR (where the screenshots go), CHROMIUM (default /usr/bin/chromium).
//
// Protocol with the Rust test that runs it (tests/tests/dashboard_browser.rs), one line
// each on stdout: `READY` once the page is live and shows no alert — the test then feeds
// the agent a ratio breach — and `DONE {json}` at the end. Any failure exits non-zero with
// the reason on stderr.

import { chromium } from 'playwright-core';
import path from 'node:path';
import fs from 'node:fs';

const url = process.env.DASHBOARD_URL;
const staff = process.env.STAFF;
const pin = process.env.PIN;
const out = process.env.OUT_DIR || '.';
if (!url || !staff || !pin) {
  console.error('DASHBOARD_URL, STAFF and PIN are required');
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
  const context = await browser.newContext({ viewport: { width: 412, height: 915 }, locale: 'zh-CN' });
  const page = await context.newPage();
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(url)) outside.push(r.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  await page.goto(url + '/');
  await page.locator('#conn.live').waitFor({ timeout: 10000 });
  await page.locator('.room[data-room="infant"]').waitFor({ timeout: 10000 });
  if (await page.locator('.alert').count() !== 0) throw new Error('an alert before any event');
  // Chinese by default.
  const heading = await page.locator('#alerts-section h2').textContent();
  if (heading !== '当前警报') throw new Error(`default language heading: ${heading}`);
  console.log('READY');

  // The test now feeds the breach to the agent; it must show without a reload.
  const t0 = Date.now();
  const alert = page.locator('.alert[data-type="ratio_breach"]');
  await alert.waitFor({ timeout: 5000 });
  result.breach_seen_ms = Date.now() - t0;
  const status = await page.locator('.room[data-room="infant"]').getAttribute('data-status');
  if (status !== 'breach') throw new Error(`room status ${status}`);
  const text = await alert.textContent();
  if (!text.includes('师幼比不足') || !text.includes('乳儿班')) throw new Error(`alert text: ${text}`);
  // Nobody is logged in: no child's name on the page.
  if ((await page.content()).includes('小明')) throw new Error('a child name shown before login');

  // Acknowledge: the button asks for the PIN first.
  await alert.locator('button.ack-btn').click();
  await page.locator('dialog#login[open]').waitFor({ timeout: 5000 });
  await page.fill('#staff', staff);
  await page.fill('#pin', pin);
  await page.click('#login-submit');
  const acked = page.locator('.alert.acked[data-type="ratio_breach"]');
  await acked.waitFor({ timeout: 10000 });
  const ackText = await acked.locator('.ack').textContent();
  if (!ackText.includes('已确认')) throw new Error(`acknowledgement text: ${ackText}`);
  result.acknowledged = ackText;
  // Logged in: names appear.
  await page.locator('.room[data-room="infant"] .names').waitFor({ timeout: 5000 });
  if (!(await page.locator('.room[data-room="infant"] .names').textContent()).includes('小明')) {
    throw new Error('logged-in staff do not see the children');
  }
  // A nap, and a sleep check in one tap on the phone: the card counts up from the check.
  await page.locator('.room[data-room="infant"] .nap-start').click();
  const napCard = page.locator('.nap[data-nap="infant"]');
  await napCard.locator('.nap-check').waitFor({ timeout: 10000 });
  const before = await napCard.locator('.nap-age').textContent();
  if (!before.includes('尚未巡查')) throw new Error(`nap card before a check: ${before}`);
  await napCard.locator('.nap-check').click();
  await page.waitForFunction(() => {
    const e = document.querySelector('.nap[data-nap="infant"] .nap-age');
    return e && e.textContent.includes('上次巡查');
  }, null, { timeout: 10000 });
  result.nap_card = await napCard.textContent();
  // 晨午检 in two taps on the phone: 小明's temperature on the number pad, then 正常.
  // 38.2 °C is a fever all the same: the row and the alerts say so.
  const row = page.locator('#health li[data-child="c-01"]');
  await row.waitFor({ timeout: 10000 });
  if (!(await row.textContent()).includes('小明')) throw new Error(`health row: ${await row.textContent()}`);
  await row.locator('input.hc-temp').fill('38.2');
  await row.locator('button.hc-pass').click();
  await page.locator('#health li.failed[data-child="c-01"]').waitFor({ timeout: 10000 });
  await page.locator('.alert[data-type="health_check_failed"]').waitFor({ timeout: 10000 });
  if ((await row.locator('input.hc-temp').inputValue()) !== '') throw new Error('the recorded temperature stayed in the field');
  // A later normal check resolves it.
  await row.locator('input.hc-temp').fill('36.7');
  await row.locator('button.hc-pass').click();
  await page.waitForFunction(() => {
    const li = document.querySelector('#health li[data-child="c-01"]');
    return li && !li.classList.contains('failed') && li.textContent.includes('✓');
  }, null, { timeout: 10000 });
  await page.locator('.alert[data-type="health_check_failed"]').waitFor({ state: 'detached', timeout: 10000 });
  result.health_row = await row.textContent();
  // 一事一反馈: record what was done about the breach; the alert says so, and who.
  await acked.locator('button.dispose-btn').click();
  await page.locator('dialog#dispose[open]').waitFor({ timeout: 5000 });
  await page.selectOption('#dispose-action', 'escalated');
  await page.fill('#dispose-note', '已请园长调配人手');
  await page.click('#dispose-submit');
  await page.locator('.alert[data-type="ratio_breach"] .disposed').waitFor({ timeout: 10000 });
  const disposedText = await page.locator('.alert[data-type="ratio_breach"] .disposed').textContent();
  if (!disposedText.includes('已上报') || !disposedText.includes('王老师')) throw new Error(`disposition text: ${disposedText}`);
  result.disposed = disposedText;
  // Who counts: s-01 counts; one tap puts her on a break, and the card says so at once.
  const me = page.locator('.room[data-room="infant"] .names .person[data-staff="s-01"]');
  await me.waitFor({ timeout: 10000 });
  if (!(await me.textContent()).includes('计入师幼比')) throw new Error(`staff row: ${await me.textContent()}`);
  await me.locator('button.presence-btn[data-presence="break"]').click();
  await page.locator('.room[data-room="infant"] .names .person.not-counted[data-staff="s-01"]').waitFor({ timeout: 10000 });
  result.on_break = await page.locator('.room[data-room="infant"] .names .person[data-staff="s-01"]').textContent();
  if (!result.on_break.includes('休息中')) throw new Error(`staff row on a break: ${result.on_break}`);
  // 紧急点名: a drill turns the page into the roll-call list; one tap accounts for a child.
  await page.locator('#emergency .em-start[data-kind="drill"]').click();
  await page.locator('#roll-count').waitFor({ timeout: 10000 });
  const rollStart = await page.locator("#roll-count").textContent();
  if (!rollStart.includes("未到 5")) throw new Error(`roll count at the start: ${rollStart}`);
  const xiaoming = page.locator('#emergency .roll li[data-person="c-01"]');
  await xiaoming.waitFor({ timeout: 10000 });
  if (!(await xiaoming.textContent()).includes('小明')) throw new Error(`roll-call row: ${await xiaoming.textContent()}`);
  await xiaoming.locator('button').click();
  await page.waitForFunction(() => (document.getElementById('roll-count') || {}).textContent?.includes('未到 4'), null, { timeout: 10000 });
  if (await page.locator('#emergency .roll li[data-person="c-01"]').count() !== 0) throw new Error('an accounted child is still listed');
  result.roll_call = await page.locator('#roll-count').textContent();
  await page.locator('#timeline li.tr-acknowledged').first().waitFor({ timeout: 10000 });
  // The timeline's numbers fit in its margin up to 100 items (they were clipped past 9).
  const marker = await page.evaluate(() => {
    const ol = document.getElementById('timeline');
    const li = ol.querySelector('li');
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = getComputedStyle(li).font;
    return { pad: parseFloat(getComputedStyle(ol).paddingLeft), need: ctx.measureText('100.').width };
  });
  if (!(marker.pad >= marker.need + 4)) throw new Error(`timeline numbers clipped: ${JSON.stringify(marker)}`);
  // The day chart says what its lines and red marks are, and has axes.
  const legend = await page.locator('#chart-legend').textContent();
  for (const words of ['在岗教职工', '按师幼比需要', '人手不足']) {
    if (!legend.includes(words)) throw new Error(`chart legend lacks ${words}: ${legend}`);
  }
  const chart = page.locator('.chart').first();
  await chart.locator('.x-axis').waitFor({ timeout: 10000 });
  const yAxis = await chart.locator('.y-axis').textContent();
  if (!yAxis.includes('教职工人数') || !yAxis.endsWith('0')) throw new Error(`chart y axis: ${yAxis}`);
  if (!/\d\d:\d\d/.test(await chart.locator('.x-axis').textContent())) throw new Error('chart x axis has no times');
  await page.screenshot({ path: path.join(out, 'dashboard.png'), fullPage: true });

  // English on request.
  await page.click('#lang');
  const en = await page.locator('#alerts-section h2').textContent();
  if (en !== 'Active alerts') throw new Error(`English heading: ${en}`);
  const legendEn = await page.locator('#chart-legend').textContent();
  if (!legendEn.includes('Staff the ratio requires')) throw new Error(`English chart legend: ${legendEn}`);
  await page.screenshot({ path: path.join(out, 'dashboard-en.png'), fullPage: true });

  // The wall display, in the same logged-in browser: no names, no buttons.
  const wall = await context.newPage();
  await wall.setViewportSize({ width: 1280, height: 800 });
  await wall.goto(url + '/wall');
  await wall.locator('.alert[data-type="ratio_breach"]').waitFor({ timeout: 10000 });
  if (await wall.locator('button.ack-btn').count() !== 0) throw new Error('wall mode offers acknowledgement');
  if (await wall.locator('button.dispose-btn').count() !== 0) throw new Error('wall mode offers dispositions');
  // The drill's roll call is on the wall as counts, with no names and no buttons.
  await wall.locator('#roll-count').waitFor({ timeout: 10000 });
  if (!(await wall.locator('#roll-count').textContent()).includes('4')) throw new Error('wall roll count');
  if (await wall.locator('#emergency button').count() !== 0) throw new Error('wall mode offers roll-call buttons');
  if ((await wall.content()).includes('调配')) throw new Error('wall mode shows a disposition note');
  if (await wall.locator('#health-section:visible').count() !== 0) throw new Error('wall mode shows health checks');
  if (await wall.locator('#login-btn:visible').count() !== 0) throw new Error('wall mode offers login');
  const wallHtml = await wall.content();
  for (const name of ['小明', '王老师']) {
    if (wallHtml.includes(name)) throw new Error(`wall mode shows ${name}`);
  }
  // The wall counts who is present but not counted, naming nobody (in English, chosen above).
  const notCounted = await wall.locator('.room[data-room="infant"] .not-counted').textContent({ timeout: 10000 });
  if (!notCounted.includes('not counted: on a break 1')) throw new Error(`wall not-counted line: ${notCounted}`);
  if (await wall.locator('button.presence-btn').count() !== 0) throw new Error('wall mode offers presence buttons');
  await wall.screenshot({ path: path.join(out, 'dashboard-wall.png') });

  if (outside.length) throw new Error(`requests outside the agent: ${outside.join(', ')}`);
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log('DONE ' + JSON.stringify(result));
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
