// sandboxd-gateway --public-url: one origin for everything. The URL handed out is <gateway>/sandboxes/<id>; the
// official client runs commands (HTTP), a terminal (WebSocket) and reaches a server's preview through it.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { Gateway, waitFor, withTimeout } from './harness.mjs';

/** A port that was free a moment ago: --public-url must name the gateway's port before it starts. */
async function freePort() {
  const server = createServer();
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address();
  await new Promise((res) => server.close(res));
  return port;
}

let gw;
let origin;
before(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  gw = new Gateway({ extraArgs: ['--public-url', origin] });
  gw.port = port;
  // The harness passes --port 0 first; a later --port wins.
  gw.extraArgs.push('--port', String(port));
  await gw.start();
});
after(async () => {
  await gw?.dispose();
});

test('one origin: the sandbox URL is the gateway\'s; HTTP, WebSocket terminal and a server preview all go through it', async () => {
  try {
    assert.equal(gw.url, origin);
    const compute = gw.compute();
    const sandbox = await compute.sandbox.create({
      servers: [{ slug: 'web', start: 'python3 -m http.server $PORT' }],
    });
    gw.ids.add(sandbox.sandboxId);
    const raw = await gw.call('GET', `/v1/sandboxes/${sandbox.sandboxId}`);
    assert.equal(raw.body.data.url, `${origin}/sandboxes/${sandbox.sandboxId}`);
    assert.equal((await sandbox.run.command('echo through the gateway')).stdout.trim(), 'through the gateway');

    const terminal = await sandbox.terminal.create({ pty: true });
    let output = '';
    terminal.on('output', (d) => (output += d));
    terminal.write('echo pty-$((6*7))\n');
    await waitFor(() => output.includes('pty-42'), { timeout: 30_000, what: 'PTY output over the proxied WebSocket' });
    await terminal.destroy();

    const server = await waitFor(
      async () => {
        const s = await sandbox.server.retrieve('web');
        return s?.url && s.status === 'ready' ? s : null;
      },
      { timeout: 30_000, interval: 200, what: 'server web ready' },
    );
    assert.ok(server.url.startsWith(`${origin}/sandboxes/${sandbox.sandboxId}/preview/`), server.url);
    // The agent's preview proxy wants the sandbox token (servers started with public:true would not).
    const page = await withTimeout(fetch(server.url + '/', { headers: { Authorization: `Bearer ${raw.body.data.token}` } }), 10_000, 'GET preview through the gateway');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Directory listing/);

    // A stop with a WebSocket still open through the gateway: SIGTERM must not wait for it (exit 0 within 15 s).
    const open = await sandbox.terminal.create({ pty: true });
    let echoed = '';
    open.on('output', (d) => (echoed += d));
    open.write('echo still-open\n');
    await waitFor(() => echoed.includes('still-open'), { timeout: 30_000, what: 'the second terminal to answer' });
    const ids = gw.ids;
    await gw.stop();
    gw = await new Gateway({ keys: gw.keys, stateDir: gw.stateDir, extraArgs: ['--public-url', origin, '--port', String(gw.port)] }).start();
    gw.ids = ids;
    await sandbox.disconnect();

    const unknown = await fetch(`${origin}/sandboxes/sbx_nope/health`);
    assert.equal(unknown.status, 404);
    await sandbox.destroy();
    assert.equal((await fetch(`${origin}/sandboxes/${sandbox.sandboxId}/health`)).status, 404, 'a destroyed sandbox is not proxied');
  } catch (e) {
    e.message = `${e.message}\n--- gateway stderr (tail) ---\n${gw.stderrTail()}`;
    throw e;
  }
});
