// Managed servers: server.start / list / retrieve / stop / restart / delete / logs / updateStatus,
// and ready() with servers. Every scenario probes GET /servers first and fails if
// it answers 404 (a missing route is a regression, not a skip).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { useAgent, waitFor, withTimeout } from './harness.mjs';

const { scenario: base } = useAgent();
const scenario = (name, fn) => base(name, fn, { requires: ['GET', '/servers'] });

const STATUSES = ['installing', 'starting', 'running', 'ready', 'failed', 'stopped', 'restarting'];
// A tiny HTTP server listening on $PORT that answers "<GREETING> <url>".
const HTTP_SERVER = `node -e "require('http').createServer((q,s)=>s.end((process.env.GREETING||'hello')+' '+q.url)).listen(+process.env.PORT,'127.0.0.1')"`;

async function waitStatus(sandbox, slug, pred, what, timeout = 30_000) {
  let last;
  try {
    return await waitFor(
      async () => {
        last = await sandbox.server.retrieve(slug);
        return pred(last) ? last : null;
      },
      { timeout, interval: 100, what },
    );
  } catch (e) {
    e.message += `\nlast server info: ${JSON.stringify(last)}`;
    throw e;
  }
}

async function httpGet(url) {
  const res = await withTimeout(fetch(url), 5_000, `GET ${url}`);
  return { status: res.status, body: await res.text() };
}

scenario('server.start() with install → ready with a detected port; serves HTTP; logs; ready()', async ({ sandbox, agent }) => {
  mkdirSync(join(agent.root, 'app'));
  const s = await sandbox.server.start({
    slug: 'web',
    install: 'echo inst-out; touch installed.flag',
    start: `echo start-out; echo start-err >&2; exec ${HTTP_SERVER}`,
    path: 'app',
    environment: { GREETING: 'hi-there' },
  });
  assert.equal(s.slug, 'web');
  assert.ok(['installing', 'starting', 'running'].includes(s.status), `initial status ${s.status}`);
  assert.equal(s.path, join(agent.root, 'app'));
  assert.ok(Number.isFinite(new Date(s.created_at).getTime()));
  const ready = await waitStatus(sandbox, 'web', (x) => x.status === 'ready', 'status ready');
  assert.ok(existsSync(join(agent.root, 'app', 'installed.flag')), 'install ran in path');
  assert.equal(typeof ready.port, 'number');
  assert.ok(ready.port >= 3000, `port ${ready.port}`);
  assert.equal(ready.url, `http://localhost:${ready.port}`);
  assert.equal(typeof ready.pid, 'number');
  const got = await httpGet(`http://127.0.0.1:${ready.port}/ping`);
  assert.equal(got.body, 'hi-there /ping');

  const combined = await sandbox.server.logs('web');
  assert.equal(combined.slug, 'web');
  assert.equal(combined.stream, 'combined');
  assert.match(combined.logs, /inst-out\n[\s\S]*start-out\n/);
  assert.match(combined.logs, /start-err\n/);
  const out = await sandbox.server.logs('web', { stream: 'stdout' });
  assert.match(out.logs, /start-out/);
  assert.doesNotMatch(out.logs, /start-err/);
  const err = await sandbox.server.logs('web', { stream: 'stderr' });
  assert.equal(err.logs, 'start-err\n');

  const list = await sandbox.server.list();
  assert.deepEqual(list.map((x) => x.slug), ['web']);
  const r = await sandbox.ready();
  assert.equal(r.ready, true);
  const entry = r.servers.find((x) => x.slug === 'web');
  assert.equal(entry?.status, 'ready');
  assert.equal(entry?.port, ready.port);
  await sandbox.server.delete('web');
});

scenario('server.stop() / restart() / delete()', async ({ sandbox }) => {
  await sandbox.server.start({ slug: 'cycle', start: HTTP_SERVER });
  const first = await waitStatus(sandbox, 'cycle', (x) => x.status === 'ready', 'ready');
  assert.equal(await sandbox.server.stop('cycle'), undefined);
  const stopped = await sandbox.server.retrieve('cycle');
  assert.equal(stopped.status, 'stopped', 'stop responds after the process is gone');
  await assert.rejects(fetch(`http://127.0.0.1:${first.port}/`), 'port still served after stop');
  await sandbox.server.stop('cycle'); // already stopped: still ok
  const restarted = await sandbox.server.restart('cycle');
  assert.ok(['starting', 'running', 'ready'].includes(restarted.status), `restart status ${restarted.status}`);
  const again = await waitStatus(sandbox, 'cycle', (x) => x.status === 'ready', 'ready after restart');
  assert.equal(again.restart_count ?? 0, 0, 'manual restart does not count');
  assert.notEqual(again.pid, first.pid);
  assert.equal((await httpGet(`http://127.0.0.1:${again.port}/x`)).body, 'hello /x');
  await sandbox.server.delete('cycle');
  await assert.rejects(sandbox.server.retrieve('cycle'), /API request failed \(404\)/);
  await assert.rejects(sandbox.server.delete('cycle'), /API request failed \(404\)/);
  assert.deepEqual(await sandbox.server.list(), []);
});

scenario("restart_policy 'on-failure' restarts up to max_restarts, then failed", async ({ sandbox }) => {
  await sandbox.server.start({
    slug: 'crashy',
    start: 'echo run; exit 3',
    restart_policy: 'on-failure',
    max_restarts: 2,
    restart_delay_ms: 100,
  });
  const failed = await waitStatus(sandbox, 'crashy', (x) => x.status === 'failed', 'failed after restarts');
  assert.equal(failed.restart_count, 2);
  assert.equal(failed.exit_code, 3);
  assert.equal(failed.restart_policy, 'on-failure');
  assert.equal(failed.restart_delay, 100_000_000, 'restart_delay is reported in nanoseconds');
  const logs = await sandbox.server.logs('crashy', { stream: 'stdout' });
  assert.equal(logs.logs, 'run\nrun\nrun\n');
  await sandbox.server.delete('crashy');
});

scenario('a failing install marks the server failed without starting it', async ({ sandbox, agent }) => {
  await sandbox.server.start({ slug: 'badinstall', install: 'echo nope >&2; exit 1', start: 'touch started.flag; sleep 60' });
  const s = await waitStatus(sandbox, 'badinstall', (x) => x.status === 'failed', 'failed');
  assert.ok(STATUSES.includes(s.status));
  assert.equal(existsSync(join(agent.root, 'started.flag')), false);
  assert.match((await sandbox.server.logs('badinstall', { stream: 'stderr' })).logs, /nope/);
  await sandbox.server.delete('badinstall');
});

scenario('updateStatus() sets the recorded status; invalid values are rejected', async ({ sandbox }) => {
  await sandbox.server.start({ slug: 'stat', start: 'sleep 60' });
  await sandbox.server.updateStatus('stat', 'ready');
  assert.equal((await sandbox.server.retrieve('stat')).status, 'ready');
  await assert.rejects(sandbox.server.updateStatus('stat', 'dancing'), /API request failed \(400\)/);
  await assert.rejects(sandbox.server.logs('stat', { stream: 'both' }), /API request failed \(400\)/);
  await sandbox.server.delete('stat');
});

scenario('slugs are URL-encoded by the client and decoded by the agent', async ({ sandbox }) => {
  // (the agent rejects '/' in slugs with 400 — a documented agent choice, so none here)
  const slug = 'my app ü#1?&=%';
  const s = await sandbox.server.start({ slug, start: 'sleep 60' });
  assert.equal(s.slug, slug);
  assert.equal((await sandbox.server.retrieve(slug)).slug, slug);
  await sandbox.server.stop(slug);
  assert.equal((await sandbox.server.retrieve(slug)).status, 'stopped');
  await sandbox.server.delete(slug);
  await assert.rejects(sandbox.server.retrieve(slug), /API request failed \(404\)/);
});

scenario('strict_port on a busy port is rejected with 409', async ({ sandbox }) => {
  const blocker = createServer();
  await new Promise((res) => blocker.listen(0, '127.0.0.1', res));
  const port = blocker.address().port;
  try {
    await assert.rejects(
      sandbox.server.start({ slug: 'strict', start: HTTP_SERVER, port, strict_port: true }),
      /API request failed \(409\)/,
    );
    // without strict_port the next free port is used
    await sandbox.server.start({ slug: 'loose', start: HTTP_SERVER, port });
    const s = await waitStatus(sandbox, 'loose', (x) => x.status === 'ready', 'ready on another port');
    assert.ok(s.port > port, `port ${s.port} should be above the busy ${port}`);
    await sandbox.server.delete('loose');
  } finally {
    blocker.close();
  }
});
