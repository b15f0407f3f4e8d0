// sandboxd-gateway without bubblewrap (--no-isolation, the path taken where bwrap is not installed): it says loudly
// that sandboxes are not isolated, agents still start in their own session, survive a SIGTERM'd gateway, are found
// again by the next one, and a destroy leaves no process behind.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Gateway, pidsWithEnv, waitFor } from './harness.mjs';

let gw;
before(async () => {
  gw = await new Gateway({ extraArgs: ['--no-isolation'] }).start();
});
after(async () => {
  await gw?.dispose();
});

test('without isolation: a loud warning, sandboxes survive a clean gateway stop, destroy stops every process', async () => {
  try {
    assert.match(gw.stderr, /SANDBOXES ARE NOT ISOLATED/);
    const compute = gw.compute();
    const sandbox = await compute.sandbox.findOrCreate({ name: 'plain', namespace: 'no-bwrap' });
    gw.ids.add(sandbox.sandboxId);
    assert.equal((await sandbox.run.command('echo $COMPUTESDK_SANDBOX_ID')).stdout.trim(), sandbox.sandboxId);
    await sandbox.run.command('sleep 300', { background: true });
    await waitFor(() => pidsWithEnv('COMPUTESDK_SANDBOX_ID', new Set([sandbox.sandboxId])).length >= 2, { timeout: 10_000, what: 'agent + sleep' });
    await sandbox.disconnect();

    await gw.stop(); // SIGTERM: exit code 0 within 15 s
    assert.ok(pidsWithEnv('COMPUTESDK_SANDBOX_ID', new Set([sandbox.sandboxId])).length >= 2, 'the sandbox outlives a stopped gateway');
    const ids = gw.ids;
    gw = await new Gateway({ keys: gw.keys, stateDir: gw.stateDir, extraArgs: ['--no-isolation'] }).start();
    gw.ids = ids;
    const again = await gw.compute().sandbox.find({ name: 'plain', namespace: 'no-bwrap' });
    assert.equal(again?.sandboxId, sandbox.sandboxId);
    assert.equal((await again.run.command('echo back')).stdout.trim(), 'back');
    await again.destroy();
    await waitFor(() => pidsWithEnv('COMPUTESDK_SANDBOX_ID', new Set([sandbox.sandboxId])).length === 0, {
      timeout: 15_000,
      what: 'the agent and its background sleep to be gone after destroy',
    });
  } catch (e) {
    e.message = `${e.message}\n--- gateway stderr (tail) ---\n${gw.stderrTail()}`;
    throw e;
  }
});
