// WebSocket variants with the default agent: the client's `protocol: 'json'` (text frames
// client→agent), and the legacy/explicit shell forms of PTY creation.
import assert from 'node:assert/strict';
import { collectOutput, plain, SLOW_MS, useAgent, waitFor, withTimeout } from './harness.mjs';

const { scenario } = useAgent();

async function waitText(out, re, what) {
  try {
    await waitFor(() => re.test(plain(out.text)), { timeout: SLOW_MS, what });
  } catch (e) {
    e.message += `\n--- PTY output so far ---\n${JSON.stringify(out.text.slice(-2000))}`;
    throw e;
  }
}

scenario("protocol:'json' client: PTY create, write, resize and a streamed command", async ({ agent }) => {
  const sandbox = agent.client({ protocol: 'json' });
  try {
    const started = Date.now();
    const t = await sandbox.terminal.create({ pty: true });
    assert.ok(Date.now() - started < 3_000, `PTY create took ${Date.now() - started} ms`);
    assert.match(sandbox._ws.config.url, /[?&]protocol=json(&|$)/);
    const out = collectOutput(t);
    t.resize(101, 31);
    t.write('echo "js""on-$(stty size)"\n');
    await waitText(out, /\njson-31 101\n/, 'json-protocol output');
    let chunks = '';
    const r = await withTimeout(
      sandbox.runCommand('echo streamed-json; exit 3', { onStdout: (s) => (chunks += s) }),
      SLOW_MS,
      'streamed command over a json socket',
    );
    assert.equal(r.stdout, 'streamed-json\n');
    assert.equal(r.exitCode, 3);
    assert.equal(chunks, 'streamed-json\n');
    await t.destroy();
  } finally {
    await sandbox.disconnect();
  }
});

scenario("createTerminal('/bin/sh') (legacy string form) makes a PTY running that shell", async ({ sandbox }) => {
  const t = await sandbox.createTerminal('/bin/sh');
  assert.equal(t.pty, true);
  assert.equal(t.status, 'running');
  const out = collectOutput(t);
  t.write('echo "sh""ell=$0"\n');
  await waitText(out, /\nshell=\/bin\/sh\n/, '$0 of the legacy terminal');
  await t.destroy();
});

scenario("terminal.create({pty:true, shell:'/bin/sh'}) uses the given shell; list reports it", async ({ sandbox }) => {
  const t = await sandbox.terminal.create({ pty: true, shell: '/bin/sh' });
  const out = collectOutput(t);
  t.write('echo "sh""ell=$0"\n');
  await waitText(out, /\nshell=\/bin\/sh\n/, '$0 of the shell terminal');
  const item = (await sandbox.terminal.list()).find((x) => x.id === t.id);
  assert.equal(item?.pty, true);
  if (item && 'shell' in item) assert.equal(item.shell, '/bin/sh');
  await t.destroy();
});
