// PTY input back-pressure: input for a program that is not reading must be queued, not dropped,
// and must not stall other terminals or streamed commands on the same socket.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectOutput, SLOW_MS, useAgent, withTimeout } from './harness.mjs';
import { PROMPT, shellReady, waitText } from './pty-helpers.mjs';

const { scenario } = useAgent();

scenario('typed-ahead input is kept while the program is busy (PTY input back-pressure)', async ({ sandbox, agent }) => {
  // A user pastes ~230 KB while the foreground job (`sleep 6`) is not reading: the tty input
  // buffer (4 KB) fills, so the agent must keep the rest queued and deliver it once `cat` reads —
  // not give up after a few seconds and drop it.
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  const errors = [];
  t.on('error', (e) => errors.push(e));
  await waitText(out, (s) => PROMPT.test(s), 'the shell prompt');
  const file = join(agent.root, 'paste.txt');
  const lines = Array.from({ length: 4000 }, (_, i) => `line ${String(i).padStart(5, '0')} ${'x'.repeat(40)} ü✓`);
  const text = `${lines.join('\n')}\n`;
  t.write(`stty -echo; sleep 6; cat > '${file}'; echo "PA""STED"\n`);
  t.write(text);
  t.write('\x04'); // ^D ends cat's input
  try {
    await waitText(out, (s) => s.includes('PASTED\n'), 'end of paste');
  } catch (e) {
    const size = existsSync(file) ? readFileSync(file).length : 'missing';
    e.message += `\n--- paste.txt has ${size} of ${Buffer.byteLength(text)} bytes; terminal errors: ${JSON.stringify(errors)}`;
    throw e;
  }
  const got = readFileSync(file, 'utf8');
  assert.equal(Buffer.byteLength(got), Buffer.byteLength(text));
  assert.equal(got, text);
  assert.deepEqual(errors, []);
  await t.destroy();
});

scenario('a PTY that is not reading input does not stall other terminals or streams on the same socket', async ({ sandbox }) => {
  const busy = await sandbox.terminal.create({ pty: true });
  const other = await sandbox.terminal.create({ pty: true });
  const busyOut = collectOutput(busy);
  const out = collectOutput(other);
  await shellReady(busy, busyOut, 'busy');
  await shellReady(other, out, 'other');
  busy.write('stty -echo; sleep 8; cat >/dev/null\n');
  busy.write(`${'y'.repeat(63)}\n`.repeat(1024)); // 64 KB of lines: fills the busy PTY's input buffer
  const started = Date.now();
  other.write('echo "oth""er-ok"\n');
  await waitText(out, (s) => s.includes('\nother-ok\n'), 'output of the other terminal');
  const took = Date.now() - started;
  assert.ok(took < 3_000, `input to another terminal waited ${took} ms behind the blocked one`);
  const streamStarted = Date.now();
  const r = await withTimeout(sandbox.runCommand('echo streamed', { onStdout: () => {} }), SLOW_MS, 'streamed command');
  assert.equal(r.stdout, 'streamed\n');
  assert.ok(Date.now() - streamStarted < 3_000, `command:start waited ${Date.now() - streamStarted} ms`);
  await busy.destroy();
  await other.destroy();
});
