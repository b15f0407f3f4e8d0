// Helpers shared by the reconnect*.test.mjs files.
// WebSocket reconnect: the client's socket is killed while PTY (or streamed-command) output is
// flowing; the client reconnects after ~1 s, resubscribes, and the agent's per-channel backlog
// must hand over the output produced meanwhile — no duplicated and no missing lines.
// (terminate() has an inherent, tiny window: a frame already in the client's kernel buffer when it
// destroys the socket is lost although the agent wrote it. Output comes every ~20 ms and loopback
// close detection is sub-millisecond, so this has not been observed; close() has no such window.)
import assert from 'node:assert/strict';
import { plain, SLOW_MS, waitFor } from './harness.mjs';

export const LINES = 150;
// `$((1+1))` keeps the typed command from matching the DONE marker in the echoed input.
export const LOOP = `for i in $(seq 1 ${LINES}); do printf 'L:%04d\\n' $i; sleep 0.02; done; echo DONE-$((1+1))\n`;

export function numbered(text) {
  return [...plain(text).matchAll(/^L:(\d{4})$/gm)].map((m) => Number(m[1]));
}

export function describeSequence(seq) {
  const dups = seq.filter((n, i) => seq.indexOf(n) !== i);
  const missing = [];
  for (let i = 1; i <= LINES; i++) if (!seq.includes(i)) missing.push(i);
  const disorder = seq.some((n, i) => i > 0 && n <= seq[i - 1]);
  return `count=${seq.length} duplicates=[${dups.slice(0, 20)}] missing=[${missing.slice(0, 40)}${missing.length > 40 ? ',…' : ''}] outOfOrder=${disorder}`;
}

/** Kills the client's socket (`close` or `terminate`) and waits for the client to reconnect. */
export async function killAndReconnect(sandbox, how, { waitOpen = true } = {}) {
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
