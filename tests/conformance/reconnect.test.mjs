// WebSocket reconnect with PTY output flowing (see reconnect-helpers.mjs for the mechanics).
import assert from 'node:assert/strict';
import { collectOutput, plain, SLOW_MS, useAgent, waitFor } from './harness.mjs';
import { describeSequence, killAndReconnect, LINES, LOOP, numbered } from './reconnect-helpers.mjs';

const { scenario } = useAgent();

for (const how of ['close', 'terminate']) {
  scenario(`PTY output is contiguous across a client-side socket ${how}() and reconnect`, async ({ sandbox, t: test }) => {
    const term = await sandbox.terminal.create({ pty: true });
    const out = collectOutput(term);
    term.write(LOOP);
    await waitFor(() => numbered(out.text).includes(10), { timeout: SLOW_MS, what: 'first numbered lines' });
    const { manager, reconnectMs } = await killAndReconnect(sandbox, how);
    const seenAtReconnect = numbered(out.text).length;
    test.diagnostic(`${how}(): reconnected after ${reconnectMs} ms; ${seenAtReconnect} lines seen at that point`);
    assert.ok(seenAtReconnect < LINES, 'the loop finished before the reconnect; the scenario proved nothing');
    assert.deepEqual(manager.getSubscribedChannels(), [term.channel]);
    try {
      await waitFor(() => /\nDONE-2\n/.test(plain(out.text)), { timeout: 2 * SLOW_MS, what: 'DONE marker after reconnect' });
    } catch (e) {
      e.message += `\n${describeSequence(numbered(out.text))}`;
      throw e;
    }
    const seq = numbered(out.text);
    assert.deepEqual(seq, Array.from({ length: LINES }, (_, i) => i + 1), describeSequence(seq));
    // input flows again on the new socket
    term.write('echo again-$((2+3))\n');
    await waitFor(() => /\nagain-5\n/.test(plain(out.text)), { timeout: SLOW_MS, what: 'output of input sent after reconnect' });
    await term.destroy();
  });
}
