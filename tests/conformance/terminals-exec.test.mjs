// Exec-mode terminals: terminal.create(), list(), command.run/list/retrieve, Command.wait, destroy.
import assert from 'node:assert/strict';
import { useAgent, pidsMatching, waitFor } from './harness.mjs';

const { scenario } = useAgent();

const ID = /^[A-Za-z0-9_-]+$/;

scenario('terminal.create() makes an exec-mode terminal that terminal.list() shows', async ({ sandbox }) => {
  const t = await sandbox.terminal.create();
  assert.match(t.id, ID);
  assert.equal(t.pty, false);
  assert.equal(t.status, 'running');
  assert.equal(t.channel, null, 'exec terminals have no channel');
  const explicit = await sandbox.terminal.create({ pty: false });
  assert.notEqual(explicit.id, t.id);
  const list = await sandbox.terminal.list();
  for (const id of [t.id, explicit.id]) {
    const item = list.find((x) => x.id === id);
    assert.ok(item, `terminal ${id} missing from list ${JSON.stringify(list)}`);
    assert.equal(item.pty, false);
    assert.equal(item.status, 'running');
  }
  // no WebSocket needed for exec terminals
  assert.equal(sandbox._ws, null);
});

scenario('TerminalInstance.command.run() foreground returns output, exit code and status', async ({ sandbox }) => {
  const t = await sandbox.terminal.create();
  const ok = await t.command.run('echo fg-out; echo fg-err >&2');
  assert.match(ok.id, ID);
  assert.equal(ok.terminalId, t.id);
  assert.equal(ok.command, 'echo fg-out; echo fg-err >&2');
  assert.equal(ok.stdout, 'fg-out\n');
  assert.equal(ok.stderr, 'fg-err\n');
  assert.equal(ok.exitCode, 0);
  assert.equal(ok.status, 'completed');
  assert.equal(typeof ok.durationMs, 'number');
  const bad = await t.command.run('exit 9');
  assert.equal(bad.exitCode, 9);
  assert.equal(bad.status, 'failed');
  assert.notEqual(bad.id, ok.id);
  // commands in one terminal do not share shell state (CHOICE)
  await t.command.run('export SBX_SHARED=1; cd /');
  const fresh = await t.command.run('echo "[$SBX_SHARED]"');
  assert.equal(fresh.stdout, '[]\n');
});

scenario('TerminalInstance.command.run({background:true}) then Command.wait()', async ({ sandbox }) => {
  const t = await sandbox.terminal.create();
  const started = Date.now();
  const c = await t.command.run('sleep 0.5; echo bg-done; exit 4', { background: true });
  assert.ok(Date.now() - started < 450, `background run took ${Date.now() - started} ms`);
  assert.match(c.id, ID);
  assert.equal(c.status, 'running');
  assert.equal(c.stdout, '');
  assert.equal(c.exitCode, undefined);
  const same = await c.wait(20);
  assert.equal(same, c);
  assert.equal(c.status, 'failed');
  assert.equal(c.exitCode, 4);
  assert.equal(c.stdout, 'bg-done\n');
  assert.ok(c.durationMs >= 400, `durationMs ${c.durationMs}`);
  assert.ok(Number.isFinite(new Date(c.finishedAt).getTime()), `finishedAt ${c.finishedAt}`);
  // wait without a timeout on an already-finished command returns at once
  await c.wait();
  assert.equal(c.exitCode, 4);
});

scenario('Command.refresh() sees output accumulate while the command runs', async ({ sandbox }) => {
  const t = await sandbox.terminal.create();
  const c = await t.command.run('echo first; sleep 30', { background: true });
  await waitFor(async () => (await c.refresh()).stdout === 'first\n', { timeout: 10_000, what: 'stdout "first" while running' });
  assert.equal(c.status, 'running');
  assert.equal(c.exitCode, undefined);
  await sandbox.terminal.destroy(t.id);
});

scenario('command.list() and command.retrieve()', async ({ sandbox }) => {
  const t = await sandbox.terminal.create();
  const a = await t.command.run('echo A');
  const b = await t.command.run('echo B >&2; exit 1');
  const c = await t.command.run('sleep 0.2; echo C', { background: true });
  const list = await t.command.list();
  assert.deepEqual(list.map((x) => x.id), [a.id, b.id, c.id], 'oldest first');
  assert.deepEqual(list.map((x) => x.command), ['echo A', 'echo B >&2; exit 1', 'sleep 0.2; echo C']);
  assert.equal(list[0].status, 'completed');
  assert.equal(list[0].exitCode, 0);
  assert.equal(list[1].status, 'failed');
  assert.equal(list[1].exitCode, 1);
  assert.equal(list[0].stdout, '', 'list items carry no output');
  assert.ok(Number.isFinite(new Date(list[0].startedAt).getTime()));
  const rb = await t.command.retrieve(b.id);
  assert.equal(rb.id, b.id);
  assert.equal(rb.stderr, 'B\n');
  assert.equal(rb.exitCode, 1);
  assert.equal(rb.status, 'failed');
  await (await t.command.retrieve(c.id)).wait(20);
  const rc = await t.command.retrieve(c.id);
  assert.equal(rc.stdout, 'C\n');
  assert.equal(rc.status, 'completed');
  await assert.rejects(t.command.retrieve('cmd_000000000000'), /API request failed \(404\)/);
  // a second terminal has its own command list
  const other = await sandbox.terminal.create();
  assert.deepEqual(await other.command.list(), []);
});

scenario('terminal.retrieve() of an exec terminal from another client', async ({ sandbox, agent }) => {
  const t = await sandbox.terminal.create();
  const c = await t.command.run('echo shared');
  const second = agent.client();
  try {
    const again = await second.terminal.retrieve(t.id);
    assert.equal(again.id, t.id);
    assert.equal(again.pty, false);
    const listed = await again.command.list();
    assert.deepEqual(listed.map((x) => x.id), [c.id]);
    await assert.rejects(second.terminal.retrieve('term_000000000000'), /API request failed \(404\)/);
  } finally {
    await second.disconnect();
  }
});

scenario('terminal.destroy() removes the terminal and kills its running commands', async ({ sandbox }) => {
  const t = await sandbox.terminal.create();
  const marker = `sleep 31.${process.pid % 1000}7`;
  await t.command.run(marker, { background: true });
  await waitFor(() => pidsMatching(marker).length > 0, { timeout: 10_000, what: `process "${marker}" to start` });
  assert.equal(await sandbox.terminal.destroy(t.id), undefined);
  await waitFor(() => pidsMatching(marker).length === 0, { timeout: 10_000, what: `process "${marker}" to be killed` });
  const list = await sandbox.terminal.list();
  assert.equal(list.find((x) => x.id === t.id), undefined, 'destroyed exec terminal must leave the list');
  await assert.rejects(sandbox.terminal.destroy(t.id), /API request failed \(404\)/);
  // TerminalInstance.destroy() too
  const u = await sandbox.terminal.create();
  await u.destroy();
  assert.equal(u.status, 'stopped');
  assert.equal((await sandbox.terminal.list()).find((x) => x.id === u.id), undefined);
});

scenario('TerminalInstance.execute() (deprecated) returns the raw envelope', async ({ sandbox }) => {
  const t = await sandbox.terminal.create();
  const r = await t.execute('echo legacy-exec');
  assert.equal(r.data.stdout, 'legacy-exec\n');
  assert.equal(r.data.exit_code, 0);
  assert.equal(r.data.terminal_id, t.id);
  assert.match(r.data.cmd_id, ID);
  const w = await sandbox.waitForCommand(t.id, r.data.cmd_id, 5);
  assert.equal(w.data.stdout, 'legacy-exec\n');
});
