// sandboxd-gateway lifecycle through the official computesdk@2.5.4 client: concurrent findOrCreate, expiry and
// extend, snapshots, isolation between sandboxes, a kill -9 of the gateway and its restart on the same state.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Gateway, gatewayIsolates, pidsWithEnv, waitFor, withTimeout } from './harness.mjs';

let gw;
before(async () => {
  gw = await new Gateway().start();
});
after(async () => {
  await gw?.dispose();
});

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

const processesOf = (id) => pidsWithEnv('COMPUTESDK_SANDBOX_ID', new Set([id]));

scenario('five concurrent findOrCreate calls for one name create exactly one sandbox', async () => {
  const compute = gw.compute();
  const before = new Set(gw.sandboxPids());
  const all = await withTimeout(
    Promise.all(Array.from({ length: 5 }, () => compute.sandbox.findOrCreate({ name: 'race', namespace: 'concurrency' }))),
    60_000,
    '5 concurrent findOrCreate',
  );
  const ids = new Set(all.map((s) => s.sandboxId));
  for (const id of ids) gw.ids.add(id);
  assert.equal(ids.size, 1, `ids: ${[...ids].join(', ')}`);
  const [id] = ids;
  const agents = gw.sandboxPids().filter((p) => !before.has(p));
  assert.ok(agents.length >= 1 && agents.length <= 2, `one agent (plus its bwrap) started, got pids ${agents}`);
  await Promise.all(all.map((s) => s.disconnect()));
  await compute.sandbox.destroy(id);
  await waitFor(() => processesOf(id).length === 0, { timeout: 10_000, what: 'the sandbox processes to be gone' });
});

scenario('timeout: a sandbox is destroyed at expiry; extend pushes the expiry', async () => {
  const compute = gw.compute();
  // The timeout counts from readiness (docs/gateway.md); 6 s leaves the client's own readiness poll and the extend
  // call room on a loaded machine (3 s did not: a control sandbox expired under the client's readiness poll).
  const control = await compute.sandbox.create({ timeout: 6000 });
  const extended = await compute.sandbox.create({ timeout: 6000 });
  gw.ids.add(control.sandboxId).add(extended.sandboxId);
  await compute.sandbox.extendTimeout(extended.sandboxId, { duration: 60_000 });
  // Once the control sandbox (same timeout, created first) has expired, the extended one must still serve.
  await waitFor(async () => (await gw.call('GET', `/v1/sandboxes/${control.sandboxId}`)).status === 404, {
    timeout: 30_000,
    interval: 100,
    what: 'the control sandbox to expire',
  });
  await waitFor(() => processesOf(control.sandboxId).length === 0, { timeout: 10_000, what: 'the expired sandbox processes to be gone' });
  assert.equal((await extended.run.command('echo still here')).stdout.trim(), 'still here');
  const info = await gw.call('GET', `/v1/sandboxes/${extended.sandboxId}`);
  assert.ok(Date.parse(info.body.data.expiresAt) - Date.now() > 30_000, `expiresAt ${info.body.data.expiresAt}`);
  await control.disconnect();
  await extended.destroy();
});

scenario('snapshots: a file written, snapshot, create from snapshotId, the file is there; list and delete', async () => {
  const compute = gw.compute();
  const source = await compute.sandbox.create();
  gw.ids.add(source.sandboxId);
  await source.filesystem.writeFile('notes/hello.txt', 'kept by the snapshot\n');
  const snapshot = await compute.snapshot.create(source.sandboxId, { name: 'first', metadata: { purpose: 'test' } });
  assert.match(snapshot.id, /^snap_/);
  assert.equal(snapshot.provider, 'local');
  assert.ok(snapshot.createdAt instanceof Date && !Number.isNaN(snapshot.createdAt.getTime()));
  const listed = await compute.snapshot.list();
  assert.deepEqual(listed.map((s) => s.id), [snapshot.id]);
  assert.deepEqual(listed[0].metadata, { purpose: 'test' });
  await source.destroy();

  const restored = await compute.sandbox.create({ snapshotId: snapshot.id });
  gw.ids.add(restored.sandboxId);
  assert.equal(await restored.filesystem.readFile('notes/hello.txt'), 'kept by the snapshot\n');
  await restored.destroy();

  await compute.snapshot.delete(snapshot.id);
  assert.deepEqual(await compute.snapshot.list(), []);
  await assert.rejects(compute.sandbox.create({ snapshotId: snapshot.id }), /Gateway returned invalid response/, 'a deleted snapshot is 404');
});

scenario('isolation: one sandbox cannot see or kill the other\'s processes, nor see its files or /tmp', async (t) => {
  if (!gatewayIsolates(gw)) {
    // CI installs bubblewrap (.ci/run): there a gateway that does not isolate is a regression, never a skip.
    if (process.env.CI) throw new Error('the gateway does not isolate sandboxes under CI, where bubblewrap is installed');
    t.skip('bubblewrap is not installed here: the gateway runs sandboxes without isolation (it logs so)');
    return;
  }
  const compute = gw.compute();
  const a = await compute.sandbox.create();
  const b = await compute.sandbox.create();
  gw.ids.add(a.sandboxId).add(b.sandboxId);
  await a.run.command('echo secret > /tmp/a-secret && echo mine > workspace-file');
  await a.run.command('sleep 300', { background: true });
  const sleeper = await waitFor(() => processesOf(a.sandboxId).find((pid) => /^sleep/.test(cmdline(pid))), { timeout: 10_000, what: "a's sleep" });

  assert.equal((await b.run.command('ls /tmp')).stdout.includes('a-secret'), false, "b sees a's /tmp");
  const ps = await b.run.command('for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr "\\0" " "; echo; done');
  assert.equal(/sleep 300/.test(ps.stdout), false, `b sees a's processes:\n${ps.stdout}`);
  const kill = await b.run.command(`kill -9 ${sleeper}`);
  assert.notEqual(kill.exitCode, 0, 'kill of a host pid from b must fail');
  assert.ok(processesOf(a.sandboxId).includes(sleeper), "a's sleep survived b's kill");
  const aRoot = (await a.run.command('pwd')).stdout.trim();
  const peek = await b.run.command(`cat ${gw.stateDir}/sandboxes/${a.sandboxId}/root/workspace-file; cat ${gw.stateDir}/sandboxes/${a.sandboxId}/token`);
  assert.equal(peek.stdout.includes('mine'), false, "b reads a's workspace");
  assert.notEqual(peek.exitCode, 0);
  const write = await b.run.command('touch /usr/should-not-exist');
  assert.notEqual(write.exitCode, 0, 'the host is read-only');
  assert.ok(aRoot.length > 0);

  await a.destroy();
  await waitFor(() => processesOf(a.sandboxId).length === 0, { timeout: 10_000, what: "a's processes (incl. its background sleep) to be gone" });
  await b.destroy();
});

scenario('a sandbox whose agent dies while the gateway runs is reported gone (not restarted) and frees its name', async () => {
  const compute = gw.compute();
  const sandbox = await compute.sandbox.findOrCreate({ name: 'short-lived', namespace: 'sweep' });
  gw.ids.add(sandbox.sandboxId);
  await sandbox.disconnect();
  for (const pid of processesOf(sandbox.sandboxId)) process.kill(pid, 'SIGKILL');
  await waitFor(async () => (await gw.call('GET', `/v1/sandboxes/${sandbox.sandboxId}`)).status === 404, {
    timeout: 15_000,
    interval: 100,
    what: 'the dead sandbox to be reported gone',
  });
  assert.equal(await compute.sandbox.find({ name: 'short-lived', namespace: 'sweep' }), null);
  assert.match(gw.stderr, new RegExp(`${sandbox.sandboxId}: agent pid \\d+ is gone`));
});

scenario('a kill -9 of the gateway loses nothing: after a restart the sandbox is found by id and by name and still answers', async () => {
  const compute = gw.compute();
  const sandbox = await compute.sandbox.findOrCreate({ name: 'durable', namespace: 'crash' });
  const dead = await compute.sandbox.findOrCreate({ name: 'dies-while-down', namespace: 'crash' });
  gw.ids.add(sandbox.sandboxId).add(dead.sandboxId);
  await sandbox.disconnect();
  await dead.disconnect();
  const deadPids = processesOf(dead.sandboxId);
  await gw.kill9();
  assert.ok(processesOf(sandbox.sandboxId).length > 0, 'the sandbox outlives its gateway');
  for (const pid of deadPids) process.kill(pid, 'SIGKILL');
  await waitFor(() => processesOf(dead.sandboxId).length === 0, { timeout: 10_000, what: 'the killed sandbox to be gone' });

  const ids = gw.ids;
  gw = await new Gateway({ keys: gw.keys, stateDir: gw.stateDir }).start();
  gw.ids = ids;
  const restarted = gw.compute();
  const byId = await restarted.sandbox.getById(sandbox.sandboxId);
  assert.ok(byId, 'found by id');
  assert.equal((await byId.run.command('echo after restart')).stdout.trim(), 'after restart');
  const byName = await restarted.sandbox.find({ name: 'durable', namespace: 'crash' });
  assert.equal(byName?.sandboxId, sandbox.sandboxId);
  assert.equal(await restarted.sandbox.getById(dead.sandboxId), null, 'an agent that died while the gateway was down is reported gone');
  assert.equal(await restarted.sandbox.find({ name: 'dies-while-down', namespace: 'crash' }), null);
  await byName.disconnect();
  await byId.destroy();
  await waitFor(() => processesOf(sandbox.sandboxId).length === 0, { timeout: 10_000, what: 'the sandbox to be gone after destroy' });
});

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
