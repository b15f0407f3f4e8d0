// The official computesdk@2.5.4 client against the real sandboxd-gateway binary (issue 14): the announcement's
// snippets, every route's envelope and status, keys. Binaries: $SANDBOXD_GATEWAY_PATH and $SANDBOXD_PATH.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Gateway, gatewayIsolates, pidsWithEnv, repoRoot, waitFor, withTimeout } from './harness.mjs';

let gw;
before(async () => {
  gw = await new Gateway().start();
});
after(async () => {
  await gw?.dispose();
});

/** Runs `fn`, adding the gateway's stderr tail to a failure. */
function scenario(name, fn, opts = {}) {
  test(name, opts, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      e.message = `${e.message}\n--- gateway ${gw.exit ? `exited ${JSON.stringify(gw.exit)}` : 'running'}; stderr (tail) ---\n${gw.stderrTail()}`;
      throw e;
    }
  });
}

async function destroyAndCheckGone(compute, sandbox) {
  const id = sandbox.sandboxId;
  await sandbox.destroy();
  assert.equal(await compute.sandbox.getById(id), null, 'getById after destroy');
  await waitFor(() => pidsWithEnv('COMPUTESDK_SANDBOX_ID', new Set([id])).length === 0, { timeout: 10_000, what: `every process of ${id} to be gone` });
}

scenario('announcement: create → run.code → destroy (explicit gatewayUrl)', async () => {
  const compute = gw.compute();
  const sandbox = await withTimeout(compute.sandbox.create(), 60_000, 'create');
  gw.ids.add(sandbox.sandboxId);
  assert.equal(sandbox.provider, 'local');
  const result = await sandbox.run.code('print("Hello!")');
  assert.equal(result.output.trim(), 'Hello!');
  await destroyAndCheckGone(compute, sandbox);
});

scenario('announcement: the zero-config path (COMPUTESDK_API_KEY + COMPUTESDK_TRIBUTARY_URL + E2B_API_KEY) in a child process', async () => {
  const script = `
    globalThis.WebSocket = (await import('ws')).default;
    const { compute } = await import('computesdk');
    const sandbox = await compute.sandbox.create();
    const result = await sandbox.run.code('print("Hello!")');
    console.log(JSON.stringify({ id: sandbox.sandboxId, output: result.output, provider: sandbox.provider }));
    await sandbox.destroy();
  `;
  const env = { ...process.env, COMPUTESDK_API_KEY: gw.keys[1], COMPUTESDK_TRIBUTARY_URL: gw.url, E2B_API_KEY: 'e2b-key-that-must-never-be-logged' };
  delete env.COMPUTESDK_DEBUG;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: join(repoRoot, 'tests', 'conformance'), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await withTimeout(new Promise((res) => child.on('exit', res)), 60_000, 'zero-config child');
  assert.equal(code, 0, `child failed: ${err}`);
  const line = JSON.parse(out.trim().split('\n').pop());
  gw.ids.add(line.id);
  assert.equal(line.output.trim(), 'Hello!');
  assert.equal(line.provider, 'local');
  assert.ok(!gw.stderr.includes('e2b-key-that-must-never-be-logged'), 'a provider credential reached the gateway log');
  assert.equal((await gw.call('GET', `/v1/sandboxes/${line.id}`, { key: gw.keys[1] })).status, 404, 'destroyed by sandbox.destroy()');
});

scenario('announcement: findOrCreate twice by name and namespace gives the same sandbox; find; destroy frees the name', async () => {
  const compute = gw.compute();
  const first = await compute.sandbox.findOrCreate({ name: 'project-1', namespace: 'user-1' });
  gw.ids.add(first.sandboxId);
  const second = await compute.sandbox.findOrCreate({ name: 'project-1', namespace: 'user-1' });
  assert.equal(second.sandboxId, first.sandboxId);
  assert.equal(second.getInfo ? (await second.getInfo()).metadata?.name ?? 'project-1' : 'project-1', 'project-1');
  const found = await compute.sandbox.find({ name: 'project-1', namespace: 'user-1' });
  assert.equal(found?.sandboxId, first.sandboxId);
  assert.equal(await compute.sandbox.find({ name: 'project-1', namespace: 'user-2' }), null, 'another namespace');
  const other = await compute.sandbox.findOrCreate({ name: 'project-1' }); // namespace "default"
  gw.ids.add(other.sandboxId);
  assert.notEqual(other.sandboxId, first.sandboxId);
  await first.destroy();
  assert.equal(await compute.sandbox.find({ name: 'project-1', namespace: 'user-1' }), null, 'find after destroy');
  const again = await compute.sandbox.findOrCreate({ name: 'project-1', namespace: 'user-1' });
  gw.ids.add(again.sandboxId);
  assert.notEqual(again.sandboxId, first.sandboxId, 'the name was freed: a new sandbox');
  for (const s of [other, again, first, second, found]) await s.disconnect?.();
  await compute.sandbox.destroy(other.sandboxId);
  await compute.sandbox.destroy(again.sandboxId);
});

scenario('announcement: putting it all together — name, namespace, directory, smart overlay of a template, a python3 http.server', async () => {
  mkdirSync(join(repoRoot, 'tests', '.cache'), { recursive: true }); // a fresh clone has none yet
  const template = mkdtempSync(join(repoRoot, 'tests', '.cache', 'gw-template-'));
  try {
    mkdirSync(join(template, 'react'), { recursive: true });
    writeFileSync(join(template, 'react', 'index.html'), '<h1>hello from the template</h1>\n');
    const compute = gw.compute();
    const sandbox = await withTimeout(
      compute.sandbox.create({
        name: 'combined',
        namespace: 'user-42',
        directory: '/home/workspace',
        overlays: [{ source: join(template, 'react'), target: './react', strategy: 'smart' }],
        servers: [{ slug: 'react', start: 'python3 -m http.server $PORT', path: './react', restart_policy: 'on-failure' }],
      }),
      60_000,
      'create',
    );
    gw.ids.add(sandbox.sandboxId);
    const server = await waitFor(
      async () => {
        const s = await sandbox.server.retrieve('react');
        return s?.url && s.status === 'ready' ? s : null;
      },
      { timeout: 30_000, interval: 200, what: "server 'react' to be ready with a URL" },
    );
    const page = await withTimeout(fetch(`${server.url}/index.html`), 10_000, 'GET server url');
    assert.equal(page.status, 200);
    assert.equal(await page.text(), '<h1>hello from the template</h1>\n');
    const pwd = await sandbox.run.command('pwd');
    if (gatewayIsolates(gw)) assert.equal(pwd.stdout.trim(), '/home/workspace', 'directory is the sandbox root');
    const ls = await sandbox.run.command('ls react');
    assert.match(ls.stdout, /index\.html/);
    await destroyAndCheckGone(compute, sandbox);
  } finally {
    rmSync(template, { recursive: true, force: true });
  }
});

scenario('an overlay template in the host\'s /tmp reaches the sandbox (its own /tmp would hide it)', async () => {
  const template = mkdtempSync(join(tmpdir(), 'sandboxd-gw-tmp-template-'));
  try {
    writeFileSync(join(template, 'index.html'), 'from /tmp\n');
    const compute = gw.compute();
    const sandbox = await withTimeout(
      compute.sandbox.create({ overlays: [{ source: template, target: './site', strategy: 'copy' }] }),
      60_000,
      'create',
    );
    gw.ids.add(sandbox.sandboxId);
    const overlays = await waitFor(
      async () => {
        const list = await sandbox.filesystem.overlay.list();
        return list.length === 1 && list[0].copyStatus === 'complete' ? list : null;
      },
      { timeout: 30_000, interval: 200, what: 'the overlay to be listed and complete' },
    );
    assert.equal(overlays[0].source, template);
    assert.equal((await sandbox.run.command('cat site/index.html')).stdout, 'from /tmp\n');
    await destroyAndCheckGone(compute, sandbox);
  } finally {
    rmSync(template, { recursive: true, force: true });
  }
});

scenario('a wrong API key gets the client\'s 401 message; a missing key is 401 too', async () => {
  const compute = gw.compute(0, { computesdkApiKey: 'not-a-key' });
  await assert.rejects(compute.sandbox.create(), /Invalid ComputeSDK API key/);
  const raw = await gw.call('GET', '/v1/snapshots', { key: null });
  assert.equal(raw.status, 401);
  assert.equal(raw.body.success, false);
});

scenario('a second key sees none of the first key\'s sandboxes or snapshots (404 → null)', async () => {
  const mine = gw.compute(0);
  const theirs = gw.compute(1);
  const sandbox = await mine.sandbox.findOrCreate({ name: 'private', namespace: 'ns' });
  gw.ids.add(sandbox.sandboxId);
  const snapshot = await mine.snapshot.create(sandbox.sandboxId, { name: 's1' });
  assert.equal(await theirs.sandbox.getById(sandbox.sandboxId), null);
  assert.equal(await theirs.sandbox.find({ name: 'private', namespace: 'ns' }), null);
  await theirs.sandbox.destroy(sandbox.sandboxId); // 404, ignored by the client
  await theirs.snapshot.delete(snapshot.id);
  assert.deepEqual(await theirs.snapshot.list(), []);
  assert.equal((await gw.call('POST', '/v1/snapshots', { key: gw.keys[1], body: { sandboxId: sandbox.sandboxId } })).status, 404);
  assert.equal((await gw.call('POST', `/v1/sandboxes/${sandbox.sandboxId}/extend`, { key: gw.keys[1], body: { duration: 1000 } })).status, 404);
  const still = await mine.sandbox.getById(sandbox.sandboxId);
  assert.equal((await still.run.command('echo alive')).stdout.trim(), 'alive');
  assert.equal((await mine.snapshot.list()).map((s) => s.id).includes(snapshot.id), true);
  await mine.snapshot.delete(snapshot.id);
  await still.disconnect();
  await destroyAndCheckGone(mine, sandbox);
});

scenario('raw routes: exact envelopes, 404s, bad JSON is a clear 400 and the gateway keeps serving', async () => {
  const bad = await gw.call('POST', '/v1/sandboxes', { body: '{"timeout": ' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.success, false);
  assert.match(bad.body.error, /not valid JSON/);
  const badEnv = await gw.call('POST', '/v1/sandboxes', { body: { envs: { A: 1 } } });
  assert.equal(badEnv.status, 400);
  assert.equal((await gw.call('POST', '/v1/sandboxes', { body: { timeout: -5 } })).status, 400);
  assert.equal((await gw.call('POST', '/v1/sandboxes', { body: { metadata: [1] } })).status, 400);
  assert.equal((await gw.call('POST', '/v1/sandboxes/find-or-create', { body: { namespace: 'x' } })).status, 400, 'name is required');
  assert.equal((await gw.call('GET', '/v1/sandboxes/sbx_nope')).status, 404);
  assert.equal((await gw.call('DELETE', '/v1/sandboxes/sbx_nope')).status, 404);
  assert.equal((await gw.call('POST', '/v1/sandboxes/find', { body: { name: 'nope', namespace: 'default' } })).status, 404);
  assert.equal((await gw.call('DELETE', '/v1/snapshots/snap_nope')).status, 404);
  assert.equal((await gw.call('POST', '/v1/sandboxes', { body: { snapshotId: 'snap_nope' } })).status, 404);
  const list = await gw.call('GET', '/v1/snapshots');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body, { success: true, data: [] });

  const created = await gw.call('POST', '/v1/sandboxes', { body: { metadata: { owner: 'me' }, envs: { GREETING: 'hi there' }, name: 'raw', namespace: 'r' } });
  assert.equal(created.status, 200, created.text);
  gw.ids.add(created.body.data.sandboxId);
  assert.equal(created.body.success, true);
  const d = created.body.data;
  assert.match(d.sandboxId, /^sbx_[0-9a-f]+$/);
  assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(d.token.length >= 32);
  assert.deepEqual([d.provider, d.name, d.namespace, d.metadata], ['local', 'raw', 'r', { owner: 'me' }]);
  const health = await fetch(`${d.url}/health`, { headers: { Authorization: `Bearer ${d.token}` } });
  assert.equal(health.status, 200);
  const dup = await gw.call('POST', '/v1/sandboxes', { body: { name: 'raw', namespace: 'r' } });
  assert.equal(dup.status, 409, 'create with a taken name');
  const got = await gw.call('GET', `/v1/sandboxes/${d.sandboxId}`);
  assert.deepEqual([got.body.success, got.body.data.url, got.body.data.token, got.body.data.provider], [true, d.url, d.token, 'local']);
  const found = await gw.call('POST', '/v1/sandboxes/find', { body: { name: 'raw', namespace: 'r' } });
  assert.deepEqual([found.body.data.sandboxId, found.body.data.status], [d.sandboxId, 'ready']);
  const ext = await gw.call('POST', `/v1/sandboxes/${d.sandboxId}/extend`, { body: { duration: 900000 } });
  assert.deepEqual([ext.status, ext.body], [200, { success: true }]);

  const compute = gw.compute();
  const sandbox = await compute.sandbox.getById(d.sandboxId);
  assert.equal((await sandbox.run.command('echo "$GREETING"')).stdout.trim(), 'hi there', 'envs reach commands');
  assert.equal((await sandbox.run.command('echo "$COMPUTESDK_SANDBOX_ID"')).stdout.trim(), d.sandboxId);
  await sandbox.disconnect();
  const del = await gw.call('DELETE', `/v1/sandboxes/${d.sandboxId}`);
  assert.deepEqual([del.status, del.body], [200, { success: true }]);
  assert.equal((await gw.call('DELETE', `/v1/sandboxes/${d.sandboxId}`)).status, 404, 'second destroy');
  assert.equal((await gw.call('GET', '/v1/nothing-here')).status, 404);
});
