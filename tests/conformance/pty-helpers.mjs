// Helpers shared by the pty-*.test.mjs files.
import { readFileSync } from 'node:fs';
import { plain, SLOW_MS, waitFor } from './harness.mjs';

export const PROMPT = /[#$] $/;

export async function waitText(out, pred, what, timeout = SLOW_MS) {
  try {
    await waitFor(() => pred(plain(out.text)), { timeout, what });
  } catch (e) {
    e.message += `\n--- PTY output so far ---\n${JSON.stringify(out.text.slice(-2000))}`;
    throw e;
  }
}

/**
 * Waits until the shell in `t` runs commands. Unlike waiting for the prompt, this cannot miss: output that arrives
 * before a caller attaches its 'output' listener is not kept by the client (a fast shell's first prompt can, when
 * another terminal is created in between), but this marker is printed only after the listener exists.
 */
export async function shellReady(t, out, name) {
  t.write(`echo "${name}""-ready"\n`);
  await waitText(out, (s) => s.includes(`\n${name}-ready\n`), `${name} shell to run a command`);
}

/** Evaluates the shell expression `expr` in the PTY (e.g. `$(stty size)`) and resolves with its value. */
export async function shellValue(t, out, name, expr) {
  const tag = `__${name}_${Math.random().toString(36).slice(2, 8)}`;
  // the tag is split in the typed command so that the echoed input never matches
  t.write(`echo "${tag.slice(0, 3)}""${tag.slice(3)}=${expr}="\n`);
  const re = new RegExp(`${tag}=([^=\\n]*)=`);
  let m;
  await waitText(out, (s) => (m = re.exec(s)), `${name} in PTY output`);
  return m[1];
}

/** /proc/<pid>/stat, or a zombie-looking stand-in once the process is gone. */
export function readStat(pid) {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return ') Z ';
  }
}
