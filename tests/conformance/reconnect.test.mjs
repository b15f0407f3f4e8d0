// WebSocket reconnect: the client's socket is killed while PTY (or streamed-command) output is
// flowing; the client reconnects after ~1 s, resubscribes, and the agent's per-channel backlog
// must hand over the output produced meanwhile — no duplicated and no missing lines.
// (terminate() has an inherent, tiny window: a frame already in the client's kernel buffer when it
// destroys the socket is lost although the agent wrote it. Output comes every ~20 ms and loopback
// close detection is sub-millisecond, so this has not been observed; close() has no such window.)
import assert from 'node:assert/strict';
import { collectOutput, plain, SLOW_MS, useAgent, waitFor, withTimeout } from './harness.mjs';

const { scenario } = useAgent();

const LINES = 150;
// `$((1+1))` keeps the typed command from matching the DONE marker in the echoed input.
const LOOP = `for i in $(seq 1 ${LINES}); do printf 'L:%04d\\n' $i; sleep 0.02; done; echo DONE-$((1+1))\n`;

function numbered(text) {
  return [...plain(text).matchAll(/^L:(\d{4})$/gm)].map((m) => Number(m[1]));
}

function describeSequence(seq) {
  const dups = seq.filter((n, i) => seq.indexOf(n) !== i);
  const missing = [];
  for (let i = 1; i <= LINES; i++) if (!seq.includes(i)) missing.push(i);
  const disorder = seq.some((n, i) => i > 0 && n <= seq[i - 1]);
  return `count=${seq.length} duplicates=[${dups.slice(0, 20)}] missing=[${missing.slice(0, 40)}${missing.length > 40 ? ',…' : ''}] outOfOrder=${disorder}`;
}

async function killAndReconnect(sandbox, how, { waitOpen = true } = {}) {
  const manager = sandbox._ws;
  assert.ok(manager, 'the client has a WebSocket manager');
  const oldSocket = manager.ws;
  assert.ok(oldSocket && typeof oldSocket.terminate === 'function', 'underlying ws socket found');
  let closes = 0;
  let opens = 0;
  const onClose = () => closes++;
  const onOpen = () => opens++;
  manager.on('close', onClose);
  manager.on('open', onOpen);
  const killedAt = Date.now();
  if (how === 'terminate') oldSocket.terminate();
  else oldSocket.close();
  await waitFor(() => closes > 0, { timeout: 5_000, what: 'client socket close event' });
  if (waitOpen) {
    await waitFor(() => opens > 0 && manager.ws !== oldSocket && manager.getState() === 'open', {
      timeout: SLOW_MS,
      what: 'client WebSocket reconnect',
    });
  }
  manager.off('close', onClose);
  manager.off('open', onOpen);
  return { manager, reconnectMs: Date.now() - killedAt };
}

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
