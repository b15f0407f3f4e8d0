// The built-in workspace page (/play/) in headless Chromium: magic-link sign-in, the PTY terminal, the live file
// tree, reconnecting after a dropped WebSocket, reattaching after a reload, and the signed-out / spent-link pages.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, launchBrowser, screenshot } from './harness.mjs';

const SHELL_MS = 30_000; // an interactive bash may read a slow ~/.bashrc on a loaded machine
const UI_MS = 10_000;

let agent;
let browser;

before(async () => {
  agent = await new Agent().start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await agent?.stop();
});

/** Runs `fn(page)` in a fresh browser context (own cookies); on failure saves a screenshot and adds context. */
async function withPage(name, fn) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  try {
    await fn(page, pageErrors);
  } catch (e) {
    const shot = await screenshot(page, `failure-${name}.png`);
    e.message += `\n(page: ${page.url()}; screenshot: ${shot}; page errors: ${JSON.stringify(pageErrors)})`;
    e.message += `\n--- agent stderr (tail) ---\n${agent.stderrTail(30)}`;
    throw e;
  } finally {
    await context.close().catch(() => {});
  }
}

const terminalLines = (page) => page.evaluate(() => window.__sandboxd.terminalText().split('\n').map((l) => l.trimEnd()));

/** Waits until some terminal line, trimmed, equals `text` (i.e. the command's output on its own line). */
async function waitForTerminalLine(page, text, timeout = SHELL_MS) {
  try {
    await page.waitForFunction(
      (want) => window.__sandboxd.terminalText().split('\n').some((l) => l.trim() === want),
      text,
      { timeout, polling: 50 },
    );
  } catch (e) {
    e.message += `\nterminal buffer:\n${(await terminalLines(page).catch(() => [])).filter(Boolean).slice(-20).join('\n')}`;
    throw e;
  }
}

async function typeCommand(page, command) {
  await page.click('#terminal');
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
}

const STATUS_WORDS = { connected: 'connected', reconnecting: 'reconnecting', 'signed-out': 'not signed in' };

/** Waits until #status shows `state` (its data-state and its visible text). */
const waitForStatus = (page, state, timeout = UI_MS) =>
  page.waitForFunction(([s, word]) => document.querySelector('#status')?.dataset.state === s
    && document.querySelector('#status').textContent.includes(word), [state, STATUS_WORDS[state]], { timeout, polling: 20 });

test('magic link → workspace: terminal, live file tree, reconnect after a dropped socket, reload', async () => {
  await withPage('workspace', async (page, pageErrors) => {
    const started = Date.now();
    const magicUrl = await agent.magicLink();

    // Land: the magic link redirects to /play/?session_token=…&sandbox_url=…, and the page strips both.
    const response = await page.goto(magicUrl, { waitUntil: 'load', timeout: UI_MS });
    assert.equal(response.status(), 200, `landing page status (url ${page.url()})`);
    await waitForStatus(page, 'connected');
    const landed = new URL(page.url());
    assert.equal(landed.pathname, '/play/');
    assert.ok(!page.url().includes('session_token'), `session_token still in the address bar: ${page.url()}`);
    assert.ok(!page.url().includes('sandbox_url'), `sandbox_url still in the address bar: ${page.url()}`);
    assert.ok(!(await page.evaluate(() => document.cookie)).includes('session_token'), 'the session cookie must be HttpOnly');
    assert.ok(await page.isVisible('#terminal'));

    // Terminal: wait for the shell to print something (its prompt), then run a command.
    await page.waitForFunction(() => window.__sandboxd.terminalText().trim().length > 0, null, { timeout: SHELL_MS });
    const terminalId = await page.evaluate(() => window.__sandboxd.terminalId);
    assert.match(terminalId, /^[A-Za-z0-9_-]+$/);
    await typeCommand(page, 'echo hello');
    await waitForTerminalLine(page, 'hello');
    // The PTY has the size of the xterm view.
    const size = await page.evaluate(() => `${window.__sandboxd.term.rows} ${window.__sandboxd.term.cols}`);
    await typeCommand(page, 'stty size');
    await waitForTerminalLine(page, size);

    // Files: the tree lists the root; a file created through the API appears via the watcher.
    await page.waitForSelector('#files', { timeout: UI_MS });
    const fileStart = Date.now();
    const created = await agent.call('POST', '/files', { path: 'browser-test.txt', content: 'x' });
    assert.ok(created.status === 200 || created.status === 201, `POST /files -> ${created.status}`);
    const entry = await page.waitForSelector('#files [data-path$="browser-test.txt"]', { timeout: 5_000 });
    const fileMs = Date.now() - fileStart;
    assert.equal(await entry.getAttribute('data-path'), `${agent.root}/browser-test.txt`);
    assert.ok(fileMs < 3_000, `the new file took ${fileMs} ms to appear`);

    // Directories: a new one appears live; expanding it lists its files, and it then updates live too.
    await agent.call('POST', '/files', { path: 'sub/inner.txt', content: 'i' });
    await page.click('#files li.dir[data-path$="/sub"] > .row', { timeout: 5_000 });
    await page.waitForSelector(`#files [data-path="${agent.root}/sub/inner.txt"]`, { timeout: UI_MS });
    await agent.call('POST', '/files', { path: 'sub/second.txt', content: 's' });
    await page.waitForSelector(`#files [data-path="${agent.root}/sub/second.txt"]`, { timeout: 5_000 });
    await agent.call('DELETE', '/files/sub/second.txt');
    await page.waitForSelector(`#files [data-path="${agent.root}/sub/second.txt"]`, { state: 'detached', timeout: 5_000 });

    // Servers: a managed server shows up (the list is polled) with a link to its preview URL.
    const start = `'${process.execPath}' -e 'require("http").createServer((q, s) => s.end("ok")).listen(process.env.PORT)'`;
    const server = await agent.call('POST', '/servers', { slug: 'web', start });
    assert.ok(server.status === 201 || server.status === 200, `POST /servers -> ${server.status} ${JSON.stringify(server.body)}`);
    const link = await page.waitForSelector('#servers li[data-slug="web"] a[href]', { timeout: 20_000 });
    const { body: listed } = await agent.call('GET', '/servers');
    assert.equal(await link.getAttribute('href'), listed.data.servers.find((s) => s.slug === 'web').url);
    assert.match(await page.textContent('#servers li[data-slug="web"]'), /web\s*(running|ready)/);

    // Drop the WebSocket: the page shows "reconnecting…", reconnects, and the terminal keeps working.
    const mark = await page.evaluate(() => window.__sandboxd.statusHistory.length);
    await page.evaluate(() => window.__sandboxd.dropSocket());
    await page.waitForFunction((m) => window.__sandboxd.statusHistory.slice(m).includes('reconnecting'), mark, { timeout: UI_MS, polling: 20 });
    await waitForStatus(page, 'connected');
    const states = await page.evaluate((m) => window.__sandboxd.statusHistory.slice(m), mark);
    assert.ok(states[0] === 'reconnecting' && states.at(-1) === 'connected', `states after the drop: ${states}`);
    await typeCommand(page, 'echo again');
    await waitForTerminalLine(page, 'again');
    // Resubscribing with the last next_offset neither repeats nor loses output.
    const lines = await terminalLines(page);
    assert.equal(lines.filter((l) => l.trim() === 'hello').length, 1, `"hello" once:\n${lines.filter(Boolean).join('\n')}`);

    // A file created while the page is connected again still shows up.
    await agent.call('POST', '/files', { path: 'after-reconnect.txt', content: 'y' });
    await page.waitForSelector('#files [data-path$="after-reconnect.txt"]', { timeout: 5_000 });

    // (For the screenshot: let the prompt come back after the last command.)
    await page.waitForFunction(() => {
      const lines = window.__sandboxd.terminalText().split('\n').map((l) => l.trim());
      return lines.slice(lines.lastIndexOf('again') + 1).some(Boolean);
    }, null, { timeout: UI_MS });
    const shot = await screenshot(page, 'workspace.png');

    // Reload: the cookie keeps the session; the same terminal is reattached and its scrollback replayed.
    await page.reload({ waitUntil: 'load', timeout: UI_MS });
    await waitForStatus(page, 'connected');
    assert.equal(await page.evaluate(() => window.__sandboxd.terminalId), terminalId, 'the reload reattaches to the same terminal');
    await waitForTerminalLine(page, 'again', UI_MS);
    await page.waitForSelector('#files [data-path$="browser-test.txt"]', { timeout: UI_MS });
    await typeCommand(page, 'echo reloaded');
    await waitForTerminalLine(page, 'reloaded');

    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
    console.log(`# workspace flow passed in ${Date.now() - started} ms (new file visible after ${fileMs} ms); screenshot ${shot}`);
  });
});

test('a magic link used a second time shows the refusal page (410)', async () => {
  await withPage('spent-link', async (page) => {
    const magicUrl = await agent.magicLink();
    const first = await fetch(magicUrl, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    assert.equal(first.status, 302, 'first use redirects');

    const response = await page.goto(magicUrl, { waitUntil: 'load', timeout: UI_MS });
    assert.equal(response.status(), 410);
    const text = await page.textContent('body');
    assert.match(text, /expired or already used/i);
    assert.match(text, /cannot be used/i);
    assert.ok(!(await page.context().cookies()).some((c) => c.name === 'session_token'), 'no session cookie from a spent link');
  });
});

test('/play/ without a session says "not signed in" instead of a broken page', async () => {
  await withPage('signed-out', async (page, pageErrors) => {
    const response = await page.goto(`${agent.url}/play/`, { waitUntil: 'load', timeout: UI_MS });
    assert.equal(response.status(), 200);
    await waitForStatus(page, 'signed-out');
    assert.ok(await page.isVisible('#signed-out'));
    assert.match(await page.textContent('#signed-out'), /Not signed in/);
    assert.match(await page.textContent('#status'), /not signed in/);
    assert.ok(!(await page.isVisible('#terminal')), 'no terminal without a session');
    assert.deepEqual(pageErrors, []);
  });
});

test('/workspace/ serves the same page, and the vendored xterm.js assets are served with their types', async () => {
  const page = await fetch(`${agent.url}/workspace/`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /text\/html/);
  assert.match(await page.text(), /id="terminal"/);
  for (const [asset, type] of [['vendor/xterm.js', /javascript/], ['vendor/addon-fit.js', /javascript/], ['vendor/xterm.css', /text\/css/], ['app.js', /javascript/], ['app.css', /text\/css/]]) {
    const res = await fetch(`${agent.url}/play/${asset}`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200, asset);
    assert.match(res.headers.get('content-type'), type, asset);
    await res.arrayBuffer();
  }
});
