// sandboxd-gateway crash between store and engine (LESSONS 42): a gateway killed -9 while it creates a sandbox
// leaves a "creating" record and a half-started agent; the next gateway stops that agent (found by its label) and
// reports the sandbox gone, freeing its name.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Gateway, pidsMatching, repoRoot, waitFor } from './harness.mjs';

let gw;
let scriptDir;
before(() => {
  // An "agent" that never becomes ready (it would print "sandboxd ready <url>"); it keeps its arguments (the
  // sandbox's state dir) in its command line, as the real agent does. Outside /tmp: visible under bubblewrap.
  mkdirSync(join(repoRoot, 'tests', '.cache'), { recursive: true }); // a fresh clone has none yet
  scriptDir = mkdtempSync(join(repoRoot, 'tests', '.cache', 'gw-stuck-'));
  const script = join(scriptDir, 'stuck-agent');
  writeFileSync(script, '#!/bin/sh\nwhile :; do sleep 1; done\n');
  chmodSync(script, 0o755);
  gw = new Gateway({ extraArgs: ['--agent', script] });
});
after(async () => {
  await gw?.dispose();
  rmSync(scriptDir, { recursive: true, force: true });
});

test('a gateway killed mid-create: the next one stops the half-started agent and reports the sandbox gone', async () => {
  try {
    await gw.start();
    const pending = gw.call('POST', '/v1/sandboxes/find-or-create', { body: { name: 'stuck', namespace: 'crash' } }).catch((e) => e);
    const creating = await waitFor(
      async () => {
        const r = await gw.call('POST', '/v1/sandboxes/find', { body: { name: 'stuck', namespace: 'crash' } });
        return r.status === 200 && r.body.data.status === 'creating' ? r.body.data : null;
      },
      { timeout: 10_000, interval: 50, what: "the sandbox to be 'creating'" },
    );
    const label = join(gw.stateDir, 'sandboxes', creating.sandboxId);
    await waitFor(() => pidsMatching(label).length > 0, { timeout: 10_000, what: 'the stuck agent to run' });
    await gw.kill9();
    await pending;
    assert.ok(pidsMatching(label).length > 0, 'the half-started agent outlives the killed gateway');

    const ids = gw.ids;
    gw = await new Gateway({ keys: gw.keys, stateDir: gw.stateDir }).start(); // the real agent again
    gw.ids = ids;
    assert.equal(pidsMatching(label).length, 0, 'the reconciler stopped the half-started agent before serving');
    const found = await gw.call('POST', '/v1/sandboxes/find', { body: { name: 'stuck', namespace: 'crash' } });
    assert.equal(found.status, 404, 'reported gone');
    assert.equal((await gw.call('GET', `/v1/sandboxes/${creating.sandboxId}`)).status, 404);
    const compute = gw.compute();
    const fresh = await compute.sandbox.findOrCreate({ name: 'stuck', namespace: 'crash' });
    gw.ids.add(fresh.sandboxId);
    assert.notEqual(fresh.sandboxId, creating.sandboxId, 'the name was freed');
    assert.equal((await fresh.run.command('echo ok')).stdout.trim(), 'ok');
    await fresh.destroy();
  } catch (e) {
    e.message = `${e.message}\n--- gateway stderr (tail) ---\n${gw.stderrTail()}`;
    throw e;
  }
});
