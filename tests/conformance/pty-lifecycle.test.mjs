// PTY terminals over the WebSocket: create (fast terminal:created), prompt and echo, resize,
// environment, destroy, a shell exiting by itself, misuse.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { collectOutput, nextEvent, plain, SLOW_MS, useAgent, waitFor } from './harness.mjs';
import { PROMPT, readStat, shellValue, waitText } from './pty-helpers.mjs';

const { scenario } = useAgent();

scenario('terminal.create({pty:true}) resolves quickly and reports a running PTY', async ({ sandbox, t: test }) => {
  const timings = [];
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const t = await sandbox.terminal.create({ pty: true });
    timings.push(Date.now() - started);
    assert.match(t.id, /^[A-Za-z0-9_-]+$/);
    assert.equal(t.pty, true);
    assert.equal(t.status, 'running');
    assert.equal(t.channel, `terminal:${t.id}`);
  }
  test.diagnostic(`PTY create times (ms, first includes the WebSocket connect): ${timings.join(', ')}`);
  // The client waits up to 5 s for terminal:created (then resolves anyway); the agent resends it
  // until we subscribe, so a create must never come near the 5 s fallback. Typical: 110-350 ms.
  for (const ms of timings) assert.ok(ms < 3_000, `PTY create took ${ms} ms (5 s = terminal:created never seen)`);
  const list = await sandbox.terminal.list();
  const ptys = list.filter((x) => x.pty === true);
  assert.equal(ptys.length, 3);
  for (const p of ptys) assert.equal(p.status, 'running');
});

scenario("on('output') receives the prompt; write('echo hello\\n') echoes hello", async ({ sandbox }) => {
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  await waitText(out, (s) => PROMPT.test(s), 'the shell prompt');
  t.write('echo hello\n');
  await waitText(out, (s) => /\nhello\n/.test(s), 'hello on its own line');
  assert.ok(plain(out.text).includes('echo hello\n'), 'the PTY echoes typed input');
  await t.destroy();
});

scenario('resize(120, 40) then `stty size` prints 40 120', async ({ sandbox }) => {
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  assert.equal(await shellValue(t, out, 'size0', '$(stty size)'), '24 80', 'initial size is 80x24');
  t.resize(120, 40);
  // resize and input travel on the same socket, in order
  assert.equal(await shellValue(t, out, 'size1', '$(stty size)'), '40 120');
  t.resize(99, 33);
  assert.equal(await shellValue(t, out, 'size2', '$(stty size)'), '33 99');
  assert.equal(await shellValue(t, out, 'cols', '$(tput cols 2>/dev/null || echo 99)'), '99');
  await t.destroy();
});

scenario('PTY environment: TERM, cwd at the sandbox root, interactive shell', async ({ sandbox, agent }) => {
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  assert.equal(await shellValue(t, out, 'term', '$TERM'), 'xterm-256color');
  assert.equal(await shellValue(t, out, 'pwd', '$(pwd)'), agent.root);
  assert.equal(await shellValue(t, out, 'tty', '$(test -t 0 && echo yes)'), 'yes');
  await t.destroy();
});

scenario("destroy() fires 'destroyed', kills the shell and removes the terminal", async ({ sandbox }) => {
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  const pid = Number(await shellValue(t, out, 'pid', '$$'));
  assert.ok(pid > 1 && existsSync(`/proc/${pid}`), `shell pid ${pid}`);
  let destroyed = 0;
  t.on('destroyed', () => destroyed++);
  assert.equal(await t.destroy(), undefined);
  assert.equal(t.status, 'stopped');
  assert.equal(destroyed, 1, "'destroyed' must fire (terminal:destroyed before the DELETE response)");
  await waitFor(() => !existsSync(`/proc/${pid}`) || /\) Z /.test(readStat(pid)), { timeout: SLOW_MS, what: `shell ${pid} to die` });
  const list = await sandbox.terminal.list();
  const item = list.find((x) => x.id === t.id);
  assert.ok(!item || item.status === 'stopped', `destroyed terminal listed as ${JSON.stringify(item)}`);
});

scenario("a shell that exits by itself fires 'destroyed' and is listed as stopped", async ({ sandbox }) => {
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  await waitText(out, (s) => PROMPT.test(s), 'the shell prompt');
  const destroyed = nextEvent(t, 'destroyed', SLOW_MS, "'destroyed' after exit");
  t.write('exit\n');
  await destroyed;
  assert.equal(t.status, 'stopped');
  const item = await waitFor(
    async () => (await sandbox.terminal.list()).find((x) => x.id === t.id && x.status === 'stopped'),
    { timeout: 5_000, what: 'terminal listed with status stopped' },
  );
  assert.equal(item.pty, true);
  // still deletable afterwards
  await sandbox.terminal.destroy(t.id);
  assert.equal((await sandbox.terminal.list()).find((x) => x.id === t.id), undefined);
});

scenario('PTY-only and exec-only misuse is rejected', async ({ sandbox }) => {
  const p = await sandbox.terminal.create({ pty: true });
  await assert.rejects(p.command.run('echo x'), /API request failed \(400\)/);
  await assert.rejects(p.command.list(), /API request failed \(400\)/);
  await p.destroy();
});

scenario("terminal.destroy() has delivered 'destroyed' by the time it resolves (the client drops its handlers then)", async ({ sandbox }) => {
  // computesdk's destroy() awaits the DELETE and then clears the terminal's event handlers, so a terminal:destroyed
  // that arrives after the DELETE answer is never seen: the agent must write it to the socket before answering.
  const missed = [];
  for (let i = 0; i < 15; i++) {
    const t = await sandbox.terminal.create({ pty: true, shell: '/bin/sh' });
    const out = collectOutput(t);
    let destroyed = false;
    t.on('destroyed', () => {
      destroyed = true;
    });
    t.write(`echo "round""-${i}"\n`);
    await waitFor(() => out.text.includes(`round-${i}`), { timeout: SLOW_MS, what: `round ${i} output` });
    await t.destroy();
    if (!destroyed) missed.push(i);
  }
  assert.deepEqual(missed, [], "rounds whose 'destroyed' came after destroy() resolved");
});
