// End-to-end check of poold's web dashboard in headless Chromium.
//
// Environment:
//   DASHBOARD_URL    e.g. http://127.0.0.1:PORT/
//   OPERATOR_TOKEN   the operator token /api/pool accepts
//   EXPECT_NODES     comma-separated node names
//   EXPECT_LEASES    comma-separated lease ids (live leases)
//   RELEASE_LEASE    one of EXPECT_LEASES
//   RELEASE_COMMAND  shell command that ends RELEASE_LEASE
//   HOSTILE_HOLDER   the holder string of one lease (contains HTML)
//   SCREENSHOT       path of the PNG to write
//   CHROMIUM         browser binary (default /usr/bin/chromium)
//
// Exits 0 after printing "dashboard check passed", else non-zero with the
// reason.
import { execSync } from 'node:child_process';
import { createRequire } from 'node:module';

const OVERALL_MS = 58000;
const WAIT_MS = 15000;

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

// ESM import ignores NODE_PATH; require() honours it, so fall back to that.
async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch (err) {
    if (err && err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    try {
      return createRequire(import.meta.url)('playwright-core');
    } catch (err2) {
      fail(`cannot load playwright-core (next to the script or through NODE_PATH): ${err2.message}`);
    }
  }
}

function env(name, required = true) {
  const v = process.env[name];
  if ((v === undefined || v === '') && required) fail(`environment variable ${name} is not set`);
  return v ?? '';
}
function list(name) {
  return env(name).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

const url = env('DASHBOARD_URL');
const operatorToken = env('OPERATOR_TOKEN');
const expectNodes = list('EXPECT_NODES');
const expectLeases = list('EXPECT_LEASES');
const releaseLease = env('RELEASE_LEASE');
const releaseCommand = env('RELEASE_COMMAND');
const hostileHolder = env('HOSTILE_HOLDER');
const screenshot = env('SCREENSHOT');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (expectNodes.length === 0) fail('EXPECT_NODES is empty');
if (expectLeases.length === 0) fail('EXPECT_LEASES is empty');
if (!expectLeases.includes(releaseLease)) fail(`RELEASE_LEASE ${releaseLease} is not in EXPECT_LEASES`);
const keptLeases = expectLeases.filter((l) => l !== releaseLease);

const started = Date.now();
let browser = null;
const watchdog = setTimeout(() => {
  console.error(`FAIL: the check ran past ${OVERALL_MS / 1000}s`);
  process.exit(1);
}, OVERALL_MS);
watchdog.unref();

function step(text) {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  console.log(`[${t}s] ${text}`);
}

// Runs fn; on a Playwright timeout or any error, fails with `what`.
async function expect(what, fn) {
  try {
    return await fn();
  } catch (err) {
    const msg = err && err.message ? err.message.split('\n')[0] : String(err);
    throw new Error(`${what}: ${msg}`);
  }
}

async function waitSignedInRows(page, what) {
  await expect(what, () => page.waitForFunction(
    ({ nodes, leases }) => {
      const dash = document.getElementById('dashboard');
      if (!dash || dash.hidden) return false;
      const attrs = (sel, attr) => new Set([...document.querySelectorAll(sel)].map((e) => e.getAttribute(attr)));
      const haveNodes = attrs('#nodes tr[data-node]', 'data-node');
      const haveLeases = attrs('#leases tr[data-lease]', 'data-lease');
      if (!nodes.every((n) => haveNodes.has(n))) return false;
      if (!leases.every((l) => haveLeases.has(l))) return false;
      const deviceRows = [...document.querySelectorAll('#devices tr[data-device]')];
      // Every node has a device row whose text mentions it.
      return nodes.every((n) => deviceRows.some((tr) => (tr.textContent || '').includes(n)));
    },
    { nodes: expectNodes, leases: expectLeases },
    { timeout: WAIT_MS, polling: 200 },
  ));
}

async function describeMissing(page) {
  return page.evaluate(({ nodes, leases }) => {
    const attrs = (sel, attr) => [...document.querySelectorAll(sel)].map((e) => e.getAttribute(attr));
    return {
      dashboardHidden: document.getElementById('dashboard')?.hidden,
      error: document.getElementById('error')?.textContent,
      nodes: attrs('#nodes tr[data-node]', 'data-node'),
      leases: attrs('#leases tr[data-lease]', 'data-lease'),
      devices: attrs('#devices tr[data-device]', 'data-device'),
      expectedNodes: nodes,
      expectedLeases: leases,
    };
  }, { nodes: expectNodes, leases: expectLeases }).catch((e) => ({ evaluateFailed: e.message }));
}

async function main() {
  const { chromium } = await loadPlaywright();

  step(`launch ${executablePath}`);
  browser = await expect('launch chromium', () => chromium.launch({
    executablePath, headless: true, args: ['--no-sandbox'], timeout: WAIT_MS,
  }));
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(WAIT_MS);

  // a. Collect problems for the end.
  let phase = 'load';
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error (${phase}): ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content[- ]Security[- ]Policy/i.test(text)) {
      problems.push(`CSP violation (${phase}): ${text}`);
      return;
    }
    if (msg.type() !== 'error') return;
    const loc = msg.location() || {};
    // The wrong token's 401 is logged by the browser as a failed load: expected.
    if (phase === 'wrong-token' && /status of 401/.test(text) && /\/api\/pool/.test(loc.url || '')) return;
    // The browser asks for /favicon.ico on its own (the page names no icon:
    // CSP would block a data: one); a 404 there is not the page's fault.
    if (/status of 404/.test(text) && /\/favicon\.ico$/.test(loc.url || '')) return;
    problems.push(`console error (${phase}): ${text}${loc.url ? ` at ${loc.url}` : ''}`);
  });
  // securitypolicyviolation events, reported through a binding (works under CSP).
  await page.exposeBinding('__reportCspViolation', (_source, text) => {
    problems.push(`CSP violation (${phase}): ${text}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile || ''}:${e.lineNumber || 0}`);
    });
  });

  step(`a. open ${url}`);
  const resp = await expect(`open ${url}`, () => page.goto(url, { waitUntil: 'load' }));
  if (!resp || !resp.ok()) fail(`GET ${url} answered ${resp ? resp.status() : 'nothing'}`);
  const csp = resp.headers()['content-security-policy'] || '';
  if (!csp.includes("script-src 'self'")) fail(`the page has no strict Content-Security-Policy (got "${csp}")`);
  await expect('the sign-in form shows', () => page.waitForSelector('#sign-in-section', { state: 'visible' }));
  if (!(await page.isHidden('#dashboard'))) fail('the dashboard shows before signing in');

  // b. A wrong token is refused.
  step('b. sign in with a wrong token');
  phase = 'wrong-token';
  await page.fill('#token', 'wrong-token-000000');
  await page.click('#sign-in');
  await expect('the error banner shows after a wrong token', () => page.waitForSelector('#error', { state: 'visible' }));
  await expect('the sign-in form comes back after a wrong token', () => page.waitForSelector('#sign-in-section', { state: 'visible' }));
  if (!(await page.isHidden('#dashboard'))) fail('the dashboard shows with a wrong token');
  const errorText = (await page.textContent('#error')) || '';
  if (errorText.trim() === '') fail('the error banner is empty');
  step(`   refused: "${errorText.trim()}"`);
  // Let any in-flight console report of the 401 land while it is expected.
  await page.waitForTimeout(300);

  // c. The right token.
  step('c. sign in with the operator token');
  phase = 'signed-in';
  await page.fill('#token', operatorToken);
  await page.click('#sign-in');
  try {
    await waitSignedInRows(page, 'nodes, leases and device rows show');
  } catch (err) {
    fail(`${err.message}\n  page: ${JSON.stringify(await describeMissing(page))}`);
  }
  if (!(await page.isHidden('#error'))) fail(`the error banner still shows: ${await page.textContent('#error')}`);
  if (!(await page.isHidden('#sign-in-section'))) fail('the sign-in form still shows after signing in');
  step(`   ${expectNodes.length} node(s), ${expectLeases.length} lease(s) and their devices show`);

  // d. Escaping.
  step('d. a hostile holder is shown as text');
  const esc = await page.evaluate((holder) => {
    const cells = [...document.querySelectorAll('#leases td')];
    return {
      literal: cells.some((td) => (td.textContent || '').includes(holder)),
      imgsInLeases: document.querySelectorAll('#leases img').length,
      imgsAnywhere: document.querySelectorAll('img').length,
      pwned: typeof window.__pwned,
    };
  }, hostileHolder);
  if (!esc.literal) fail(`the holder ${JSON.stringify(hostileHolder)} is not shown as text in #leases`);
  if (esc.imgsInLeases !== 0) fail(`#leases holds ${esc.imgsInLeases} img element(s): server text became HTML`);
  if (esc.imgsAnywhere !== 0) fail(`the page holds ${esc.imgsAnywhere} img element(s): server text became HTML`);
  if (esc.pwned !== 'undefined') fail('window.__pwned is set: server text ran as script');

  // e. Charts.
  step('e. the three charts are drawn');
  for (const name of ['leased_memory', 'active_leases', 'queued_leases']) {
    const n = await page.evaluate((c) => {
      const s = document.querySelector(`#charts svg[data-chart="${c}"]`);
      return s ? s.childElementCount : -1;
    }, name);
    if (n < 0) fail(`no svg[data-chart="${name}"] in #charts`);
    if (n === 0) fail(`svg[data-chart="${name}"] is empty`);
  }

  // f. A released lease goes away at the next refresh.
  step(`f. release ${releaseLease}: ${releaseCommand}`);
  const generatedBefore = Number(await page.getAttribute('#refreshed', 'data-generated'));
  if (!(generatedBefore > 0)) fail(`#refreshed has no data-generated (got ${generatedBefore})`);
  try {
    execSync(releaseCommand, { stdio: 'inherit', timeout: WAIT_MS, shell: '/bin/sh' });
  } catch (err) {
    fail(`RELEASE_COMMAND failed: ${err.message}`);
  }
  try {
    await page.waitForFunction(
      ({ gone, kept, before }) => {
        const have = new Set([...document.querySelectorAll('#leases tr[data-lease]')].map((e) => e.getAttribute('data-lease')));
        const generated = Number(document.getElementById('refreshed')?.getAttribute('data-generated'));
        return !have.has(gone) && kept.every((l) => have.has(l)) && generated > before;
      },
      { gone: releaseLease, kept: keptLeases, before: generatedBefore },
      { timeout: WAIT_MS, polling: 200 },
    );
  } catch (err) {
    fail(`after the release, ${releaseLease}'s row should go, the others stay and #refreshed advance: ${err.message.split('\n')[0]}\n  page: ${JSON.stringify(await describeMissing(page))}`);
  }
  step(`   ${releaseLease} is gone; ${keptLeases.length} other lease(s) remain`);

  // g. A reload stays signed in.
  step('g. reload the page');
  phase = 'reload';
  await expect('reload', () => page.reload({ waitUntil: 'load' }));
  const stored = await page.evaluate(() => sessionStorage.getItem('accelpool-token'));
  if (stored !== operatorToken) fail('the token is not kept in sessionStorage under "accelpool-token"');
  try {
    await page.waitForFunction(
      ({ nodes, kept, gone }) => {
        const dash = document.getElementById('dashboard');
        if (!dash || dash.hidden) return false;
        const attrs = (sel, attr) => new Set([...document.querySelectorAll(sel)].map((e) => e.getAttribute(attr)));
        const haveNodes = attrs('#nodes tr[data-node]', 'data-node');
        const haveLeases = attrs('#leases tr[data-lease]', 'data-lease');
        return nodes.every((n) => haveNodes.has(n)) && kept.every((l) => haveLeases.has(l)) && !haveLeases.has(gone);
      },
      { nodes: expectNodes, kept: keptLeases, gone: releaseLease },
      { timeout: WAIT_MS, polling: 200 },
    );
  } catch (err) {
    fail(`after a reload the dashboard should show again, signed in: ${err.message.split('\n')[0]}\n  page: ${JSON.stringify(await describeMissing(page))}`);
  }
  if (!(await page.isHidden('#sign-in-section'))) fail('the sign-in form shows after a reload');

  // h. Screenshot.
  step(`h. screenshot to ${screenshot}`);
  await expect('screenshot', () => page.screenshot({ path: screenshot, fullPage: true, timeout: WAIT_MS }));

  const pwned = await page.evaluate(() => typeof window.__pwned);
  if (pwned !== 'undefined') fail('window.__pwned is set: server text ran as script');
  await browser.close();
  browser = null;

  if (problems.length > 0) {
    fail(`the page reported ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  }
  clearTimeout(watchdog);
  console.log('dashboard check passed');
}

main().catch(async (err) => {
  console.error(`FAIL: ${err && err.message ? err.message : err}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
});
