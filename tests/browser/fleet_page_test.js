// The fleet page in a real browser: node fleet_page_test.js BINARY (run through run.sh).
//
// Starts the real coordinator on a free loopback port, registers a fake fleet over HTTP (seed-era
// and v2 instances, L2 usage in a few salts, a quota and a default), loads GET / in headless
// Chromium and checks what it shows; lets one instance lapse and checks that the page drops it;
// checks the layout on a phone-sized screen, that the page logged no error, and writes a
// screenshot. A second coordinator with 2,000 instances and 10,000 salts checks that the tables
// stay paged (a fixed number of rows in the DOM) and that a refresh renders quickly.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const puppeteer = require(require.resolve('puppeteer-core', { paths: [process.env.BROWSER_TEST_DEPS || __dirname] }));

const binary = process.argv[2];
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const screenshotPath = process.env.FLEET_PAGE_SCREENSHOT || path.join(os.tmpdir(), 'fleet-page.png');
const GiB = 1024 ** 3;

let passed = 0;
const ok = (what) => { passed++; console.log('ok - ' + what); };

// Starts `lmcache coordinator` on a free loopback port; resolves {url, stop}.
function startCoordinator(extraArgs) {
  const args = ['coordinator', '--host', '127.0.0.1', '--port', '0', '--state-path', ':memory:',
    '--eviction-check-interval', '0', ...extraArgs];
  const env = { ...process.env, LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC: 'false' };
  const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('coordinator did not start:\n' + log)), 20000);
    child.on('exit', (code) => reject(new Error('coordinator exited with ' + code + ':\n' + log)));
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve({ url: 'http://127.0.0.1:' + match[1], stop: () => stopCoordinator(child, () => log) });
      }
    });
  });
}

// Stops the coordinator with SIGTERM; it must exit 0 without a sanitizer report in its log (the
// binary may be built with the tests' sanitizers).
function stopCoordinator(child, log) {
  child.removeAllListeners('exit');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('coordinator did not stop')); }, 20000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error('coordinator exited with ' + (code ?? signal) + ':\n' + log()));
      if (/Sanitizer|runtime error:/.test(log())) return reject(new Error('sanitizer report:\n' + log()));
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function call(base, method, route, body) {
  const response = await fetch(base + route, {
    method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert.ok(response.ok, method + ' ' + route + ' answered ' + response.status + ': ' + text);
  return text ? JSON.parse(text) : null;
}

const key = (hash, salt) => ({ chunk_hash_hex: hash, model_name: 'llama', kv_rank: 0, cache_salt: salt });
const seedStore = (salt, hash, bytes) => ({ type: 'store', key: key(hash, salt), bytes });

async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-page-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--user-data-dir=' + profile],
  });
  return { browser, profile };
}

// Records everything the page reports as an error.
function watchErrors(page) {
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push('console: ' + message.text()); });
  page.on('pageerror', (error) => errors.push('page error: ' + error.message));
  page.on('requestfailed', (request) => errors.push('request failed: ' + request.url()));
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push('HTTP ' + response.status() + ': ' + response.url());
  });
  return errors;
}

const shownIds = (page) => page.$$eval('#instances tbody tr:not([hidden]) td.id', (tds) => tds.map((td) => td.textContent));
const shownSalts = (page) => page.$$eval('#salts tbody tr:not([hidden])', (trs) => trs
  .filter((tr) => tr.cells.length > 1).map((tr) => Array.from(tr.cells, (td) => td.textContent)));
const refreshes = (page) => page.evaluate(() => Number(document.body.dataset.refreshes || 0));
async function nextRefresh(page) {
  const seen = await refreshes(page);
  await page.waitForFunction((n) => Number(document.body.dataset.refreshes || 0) > n, { timeout: 15000 }, seen);
}

async function fleetPage(browser) {
  const coordinator = await startCoordinator(['--instance-timeout', '4', '--health-check-interval', '0.5',
    '--default-quota-gb', '4']);
  const base = coordinator.url;
  // Heartbeats of the instances in `heartbeats`, and a trickle of lookups (which change no usage)
  // so that the page has an event rate to show.
  const heartbeats = new Set();
  let lookupSeq = 100;
  const beat = setInterval(() => {
    for (const id of heartbeats) fetch(base + '/instances/' + id + '/heartbeat', { method: 'PUT' }).catch(() => {});
    const lookups = Array.from({ length: 25 }, () => ({ type: 'lookup', key: key('b1', 'tenant-b') }));
    call(base, 'POST', '/l2/events', { instance_id: 'mp-beta', seq: ++lookupSeq, events: lookups }).catch(() => {});
  }, 400);
  try {
    const fleet = [
      { instance_id: 'mp-alpha', ip: '10.0.0.11', http_port: 8080, metadata: { gpu: 'H100', zone: 'a' } },
      { instance_id: 'mp-beta', ip: '10.0.0.12', http_port: 8080, metadata: { gpu: 'H100', zone: 'b' } },
      { instance_id: 'mp-gamma', ip: '10.0.0.13', http_port: 8081, metadata: { gpu: 'A100' } },
      { instance_id: 'mp-delta', ip: 'fd00::14', http_port: 9000, metadata: {} },
    ];
    for (const instance of fleet) {
      await call(base, 'POST', '/instances', instance);
      heartbeats.add(instance.instance_id);
    }
    await call(base, 'PUT', '/l2/quota/tenant-a', { limit_gb: 1 });
    await call(base, 'POST', '/l2/events', {
      instance_id: 'mp-alpha', seq: 1,
      events: [seedStore('tenant-a', 'a1', 1 * GiB), seedStore('tenant-a', 'a2', GiB / 2), seedStore('tenant-b', 'b1', 3 * GiB)],
    });
    // mp-delta speaks v2: its first batch on POST /events makes it so.
    await call(base, 'POST', '/events', {
      batches: [{
        instance_id: 'mp-delta', incarnation: 1788000000, seq: 1, event_type: 'store', tier: 'l2', backend: 'fs',
        ts: 1788000123.4, entries: [{ key: key('c1', 'tenant-c'), size_bytes: 256 * 1024 * 1024 }],
      }],
    });

    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.setViewport({ width: 1280, height: 700 });
    await page.goto(base + '/', { waitUntil: 'load' });
    await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, { timeout: 15000 });

    assert.deepEqual((await shownIds(page)).sort(), ['mp-alpha', 'mp-beta', 'mp-delta', 'mp-gamma']);
    const dialects = await page.$$eval('#instances tbody tr:not([hidden])', (trs) =>
      Object.fromEntries(trs.map((tr) => [tr.cells[0].textContent, tr.cells[2].textContent])));
    assert.equal(dialects['mp-delta'], 'v2');
    assert.equal(dialects['mp-alpha'], 'seed');
    assert.match(await page.$eval('#instances', (t) => t.textContent), /\[fd00::14\]:9000/);
    assert.match(await page.$eval('#instances', (t) => t.textContent), /gpu=H100, zone=a/);
    ok('the page lists the registered instances with address, dialect and metadata');

    // Most used first: tenant-b (3 GiB, default limit 4 GiB), tenant-a (1.5 GiB over its 1 GiB), tenant-c.
    const salts = await shownSalts(page);
    assert.deepEqual(salts.map((row) => row[0]), ['tenant-b', 'tenant-a', 'tenant-c']);
    assert.deepEqual(salts[1].slice(0, 3), ['tenant-a', '1.50 GiB', '1.00 GiB']);
    assert.deepEqual(salts[0].slice(0, 3), ['tenant-b', '3.00 GiB', '4.00 GiB (default)']);
    assert.equal(await page.$eval('#salts tbody tr:not([hidden]) .bar', (bar) => bar.className), 'bar'); // 75%
    assert.equal(await page.$$eval('#salts .bar.over', (bars) => bars.length), 1);
    assert.equal(await page.$eval('#t-default', (p) => p.textContent), '4.00 GiB');
    assert.equal(await page.$eval('#t-instances', (p) => p.textContent), '4');
    ok('the page shows each salt\'s usage against its quota or the default');

    await page.type('#salts-filter', 'ANT-C');
    assert.deepEqual((await shownSalts(page)).map((row) => row[0]), ['tenant-c']);
    assert.equal(await page.$eval('#salts-count', (s) => s.textContent), '(1 of 3)');
    await page.$eval('#salts-filter', (input) => { input.value = ''; input.dispatchEvent(new Event('input')); });
    ok('the salt filter narrows the table');

    // mp-gamma stops heartbeating; the health sweep drops it after 4 s, and the page follows.
    heartbeats.delete('mp-gamma');
    await page.waitForFunction(() => !Array.from(document.querySelectorAll('#instances tbody tr:not([hidden]) td.id'),
      (td) => td.textContent).includes('mp-gamma'), { timeout: 20000, polling: 200 });
    assert.deepEqual((await shownIds(page)).sort(), ['mp-alpha', 'mp-beta', 'mp-delta']);
    const gone = await page.$eval('#lapsed-list', (list) => list.textContent);
    assert.match(gone, /mp-gamma at 10\.0\.0\.13:8081: lapsed/);
    assert.equal(await page.$eval('#t-instances', (p) => p.textContent), '3');
    const listed = (await call(base, 'GET', '/instances')).instances.map((i) => i.instance_id).sort();
    assert.deepEqual(listed, ['mp-alpha', 'mp-beta', 'mp-delta']);
    ok('a lapsed instance leaves the table and is listed as gone');

    await nextRefresh(page);  // rates need two summaries
    await page.$eval('#salts-filter', (input) => input.blur());
    await page.screenshot({ path: screenshotPath, fullPage: true });
    ok('screenshot written to ' + screenshotPath);

    await page.setViewport({ width: 390, height: 844, isMobile: true });  // reloads the page
    await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, { timeout: 15000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'the page is ' + overflow + ' px wider than a phone screen');
    await page.screenshot({ path: screenshotPath.replace(/(\.png)?$/, '-phone.png'), fullPage: true });
    ok('the page fits a phone-sized screen');

    assert.deepEqual(errors, []);
    ok('the page reported no errors');
    await page.close();

    await tokenPrompt(browser, base);
  } finally {
    clearInterval(beat);
    await coordinator.stop();
  }
}

// A coordinator that wants a bearer token (simulated here by answering the summary 401 until the
// request carries one): the page asks for it, keeps it in sessionStorage only and sends it.
async function tokenPrompt(browser, base) {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  const sent = [];
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    if (!request.url().endsWith('/fleet/summary')) return request.continue();
    const authorization = request.headers().authorization || '';
    sent.push(authorization);
    if (authorization === 'Bearer s3cret') return request.continue();
    return request.respond({
      status: authorization ? 403 : 401, contentType: 'application/json',
      headers: authorization ? {} : { 'WWW-Authenticate': 'Bearer' },
      body: JSON.stringify({ detail: authorization ? 'Forbidden' : 'Not authenticated' }),
    });
  });
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForSelector('#auth:not([hidden])', { timeout: 15000 });
  assert.match(await page.$eval('#status', (s) => s.textContent), /needs a token \(HTTP 401\)/);

  await page.type('#token', 'wrong');
  await page.click('#auth button');
  await page.waitForFunction(() => document.querySelector('#status').textContent.includes('HTTP 403'), { timeout: 15000 });
  assert.equal(await page.$eval('#auth-message', (m) => m.textContent), 'that token is not accepted');

  await page.type('#token', 's3cret');
  await page.click('#auth button');
  await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, { timeout: 15000 });
  assert.equal(await page.$eval('#auth', (form) => form.hidden), true);
  assert.ok((await shownIds(page)).includes('mp-alpha'));
  // In order (timed refreshes may repeat one): none, then each token as given.
  assert.deepEqual(sent.filter((value, i) => i === 0 || value !== sent[i - 1]).slice(0, 3), ['', 'Bearer wrong', 'Bearer s3cret']);
  const stored = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: Object.keys(localStorage) }));
  assert.deepEqual(stored, { session: ['lmcache-coordinator.token'], local: [] });
  // The browser logs the 401 and the 403 themselves; nothing else may fail.
  assert.deepEqual(errors.filter((e) => !/\b40[13]\b/.test(e)), []);
  ok('on 401/403 the page asks for a token, keeps it in sessionStorage and sends it as a bearer token');
  await page.close();
}

async function largeFleet(browser) {
  const coordinator = await startCoordinator([]);
  const base = coordinator.url;
  try {
    const ids = Array.from({ length: 2000 }, (_, i) => 'mp-' + String(i).padStart(5, '0'));
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(ids.slice(i, i + 100).map((id, j) =>
        call(base, 'POST', '/instances', { instance_id: id, ip: '10.1.' + ((i + j) >> 8) + '.' + ((i + j) & 255), http_port: 8080, metadata: { rack: 'r' + ((i + j) % 40) } })));
    }
    const events = Array.from({ length: 10000 }, (_, i) =>
      seedStore('tenant-' + String(i).padStart(5, '0'), i.toString(16).padStart(8, '0'), 1024 * (i + 1)));
    await call(base, 'POST', '/l2/events', { instance_id: ids[0], seq: 1, events });

    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(base + '/ui', { waitUntil: 'load' });
    await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, { timeout: 15000 });
    assert.equal(await page.$eval('#instances-count', (s) => s.textContent), '(2,000)');
    assert.equal(await page.$eval('#salts-count', (s) => s.textContent), '(10,000)');
    assert.ok(await page.$$eval('#instances tbody tr', (trs) => trs.length) <= 51);
    assert.ok(await page.$$eval('#salts tbody tr', (trs) => trs.length) <= 51);
    assert.equal((await shownSalts(page))[0][0], 'tenant-09999');  // the most used
    ok('2,000 instances and 10,000 salts are paged over at most 51 rows per table');

    await nextRefresh(page);
    const renderMs = await page.evaluate(() => Number(document.body.dataset.renderMs));
    assert.ok(renderMs < 2000, 'a refresh took ' + renderMs + ' ms to render');
    ok('a refresh of the large fleet renders in ' + renderMs + ' ms');

    const firstPage = await shownIds(page);
    await page.click('#instances-pager button:last-child');
    assert.equal(await page.$eval('#instances-pager span', (s) => s.textContent), 'page 2 of 40');
    const secondPage = await shownIds(page);
    assert.equal(firstPage.length, 50);
    assert.equal(secondPage.length, 50);
    assert.ok(!secondPage.some((id) => firstPage.includes(id)), 'page 2 repeats rows of page 1');
    await page.type('#instances-filter', 'mp-01999');
    assert.deepEqual(await shownIds(page), ['mp-01999']);
    ok('the instance table pages and filters');

    assert.deepEqual(errors, []);
    ok('the page reported no errors with the large fleet');
    await page.close();
  } finally {
    await coordinator.stop();
  }
}

(async () => {
  const { browser, profile } = await launchBrowser();
  let failed = 0;
  try {
    await fleetPage(browser);
    await largeFleet(browser);
  } catch (error) {
    failed = 1;
    console.error('not ok - ' + (error.stack || error));
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
})();
