// sandboxd-gateway --provider docker through the official client (computesdk@2.5.4, gatewayUrl): sandboxes are
// containers of the agent image on two real Docker engines of the test's own (tests/docker/engines.sh: engine a on a
// bridge with published ports, engine b with --bridge none and host networking). create → run.command, findOrCreate
// twice (one sandbox), getById, destroy. Skips, saying so, without root or docker.io — unless SANDBOXD_REQUIRE_DOCKER=1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Gateway, repoRoot } from './harness.mjs';

const script = join(repoRoot, 'tests', 'docker', 'engines.sh');
const dir = mkdtempSync('/tmp/sbxd-dkc-');
rmSync(dir, { recursive: true }); // engines.sh makes it
let engines = null;
let skip = false;
let gw;

function engineScript(...args) {
  return spawnSync(script, [args[0], dir, ...args.slice(1)], { encoding: 'utf8', timeout: 8 * 60_000, env: { ...process.env } });
}

before(async () => {
  const up = engineScript('up');
  if (up.status === 77) {
    const why = `DOCKER CONFORMANCE SKIPPED: ${up.stderr.trim()}`;
    if (process.env.SANDBOXD_REQUIRE_DOCKER === '1') throw new Error(`SANDBOXD_REQUIRE_DOCKER=1: ${why}`);
    console.error(why);
    skip = why;
    return;
  }
  assert.equal(up.status, 0, `engines.sh up failed:\n${up.stderr}`);
  engines = Object.fromEntries(up.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  gw = await new Gateway({
    extraArgs: [
      '--provider', 'docker', '--docker-image', engines.IMAGE, '--docker-pull', 'never',
      '--docker-host', `a=${engines.DOCKER_A},capacity=4`, '--docker-host', `b=${engines.DOCKER_B},capacity=4`,
    ],
  }).start();
});

after(async () => {
  try {
    await gw?.dispose();
  } finally {
    if (engines) {
      const down = engineScript('down');
      assert.equal(down.status, 0, `engines.sh down failed:\n${down.stderr}`);
    }
  }
});

test('docker provider: create, run a command, findOrCreate twice, getById, destroy through the official client', async (t) => {
  if (skip) return t.skip(skip);
  try {
    const compute = gw.compute();
    const sandbox = await compute.sandbox.create({ envs: { GREETING: 'from-docker' } });
    gw.ids.add(sandbox.sandboxId);
    assert.equal(sandbox.provider, 'docker');
    const out = await sandbox.run.command('echo $GREETING; id -un; pwd');
    assert.equal(out.stdout, 'from-docker\nsandbox\n/workspace\n');

    const first = await compute.sandbox.findOrCreate({ name: 'dk', namespace: 'conformance' });
    gw.ids.add(first.sandboxId);
    const second = await compute.sandbox.findOrCreate({ name: 'dk', namespace: 'conformance' });
    assert.equal(second.sandboxId, first.sandboxId, 'findOrCreate finds the sandbox it created');
    assert.equal((await second.run.command('echo again')).stdout, 'again\n');
    const raw = await gw.call('GET', `/v1/sandboxes/${first.sandboxId}`);
    assert.ok(['a', 'b'].includes(raw.body.data.engine), `the answer names the engine: ${raw.text}`);
    assert.notEqual(raw.body.data.engine, (await gw.call('GET', `/v1/sandboxes/${sandbox.sandboxId}`)).body.data.engine,
      'the second sandbox goes to the engine with more free capacity');

    assert.ok(await compute.sandbox.getById(sandbox.sandboxId));
    await sandbox.destroy();
    await first.destroy();
    assert.equal(await compute.sandbox.getById(sandbox.sandboxId), null);
    assert.equal(await compute.sandbox.find({ name: 'dk', namespace: 'conformance' }), null);
  } catch (e) {
    e.message = `${e.message}\n--- gateway stderr (tail) ---\n${gw.stderrTail()}`;
    throw e;
  }
});

test('docker provider: a command over the sandbox memory limit is OOM-killed and reported as oom; the sandbox lives on', async (t) => {
  if (skip) return t.skip(skip);
  try {
    const compute = gw.compute();
    const sandbox = await compute.sandbox.create({ memoryMb: 192 });
    gw.ids.add(sandbox.sandboxId);
    // The shell holds ~400 MB of a command substitution in its own memory: over the container's 192 MiB. The kernel
    // kills it (its oom_score_adj is 500, the agent's is not), and the agent reads the container group's OOM count.
    const hog = await sandbox.runCommandRequest({ command: "x=$(head -c 400000000 /dev/zero | tr '\\0' x); echo survived" });
    assert.equal(hog.data.exit_code, 137, JSON.stringify(hog.data));
    assert.equal(hog.data.reason, 'oom', JSON.stringify(hog.data));
    assert.equal(hog.data.signal, 'SIGKILL');
    assert.equal(hog.data.stdout, '');
    const killed = await sandbox.runCommandRequest({ command: 'kill -KILL $$' });
    assert.equal(killed.data.reason, 'signal', 'a SIGKILL that no memory limit caused is not called oom');
    assert.equal((await sandbox.run.command('echo alive')).stdout, 'alive\n', 'the agent survived its workload');
    const info = await sandbox.runCommandRequest({ command: 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' });
    assert.equal(info.data.stdout.trim(), String(192 * 1024 * 1024), 'the sandbox runs within the memory limit it was created with');
    await sandbox.destroy();
  } catch (e) {
    e.message = `${e.message}\n--- gateway stderr (tail) ---\n${gw.stderrTail()}`;
    throw e;
  }
});
