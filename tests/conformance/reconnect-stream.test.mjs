// WebSocket reconnect during a streamed command, and PTYs outliving their client's socket.
import assert from 'node:assert/strict';
import { collectOutput, plain, SLOW_MS, useAgent, waitFor, withTimeout } from './harness.mjs';
import { describeSequence, killAndReconnect, LINES, numbered } from './reconnect-helpers.mjs';

const { scenario } = useAgent();

scenario('a streamed runCommand survives a socket reconnect with complete output and exit code', async ({ sandbox, t: test }) => {
  await sandbox.terminal.create({ pty: true }); // opens the socket
  const chunks = [];
  const running = sandbox.runCommand(`for i in $(seq 1 ${LINES}); do printf 'L:%04d\\n' $i; sleep 0.02; done; exit 6`, {
    onStdout: (s) => chunks.push(s),
  });
  await waitFor(() => numbered(chunks.join('')).includes(10), { timeout: SLOW_MS, what: 'first streamed lines' });
  const { reconnectMs } = await killAndReconnect(sandbox, 'close');
  test.diagnostic(`streamed command: reconnected after ${reconnectMs} ms`);
  const r = await withTimeout(running, 2 * SLOW_MS, 'streamed command after reconnect');
  assert.equal(r.exitCode, 6);
  const seq = numbered(r.stdout);
  assert.deepEqual(seq, Array.from({ length: LINES }, (_, i) => i + 1), describeSequence(seq));
  assert.equal(chunks.join(''), r.stdout);
});

scenario('a PTY keeps running while no client is connected; a new client picks it up', async ({ sandbox, agent }) => {
  const term = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(term);
  term.write('echo pid-$$-\n');
  await waitFor(() => /\npid-\d+-\n/.test(plain(out.text)), { timeout: SLOW_MS, what: 'shell pid' });
  await sandbox.disconnect(); // closes the socket for good (no reconnect)
  const other = agent.client();
  try {
    const list = await other.terminal.list();
    assert.equal(list.find((x) => x.id === term.id)?.status, 'running', 'PTY must survive its socket');
    const t2 = await other.terminal.retrieve(term.id);
    const out2 = collectOutput(t2);
    t2.write('echo back-$((7*6))\n');
    await waitFor(() => /\nback-42\n/.test(plain(out2.text)), { timeout: SLOW_MS, what: 'output on the new client' });
    await t2.destroy();
  } finally {
    await other.disconnect();
  }
});
