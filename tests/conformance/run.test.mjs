// run.command (foreground/background/stream/timeout), filesystem.mkdir/exists, run.code, execute().
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { useAgent, withTimeout } from './harness.mjs';

const { scenario } = useAgent();

// ---------------------------------------------------------------------------------------------
// run.command — foreground
// ---------------------------------------------------------------------------------------------

scenario("run.command('echo hi') returns stdout and exit code 0", async ({ sandbox }) => {
  const r = await sandbox.run.command('echo hi');
  assert.equal(r.stdout, 'hi\n');
  assert.equal(r.stderr, '');
  assert.equal(r.exitCode, 0);
  assert.equal(r.status, 'completed');
  assert.equal(typeof r.durationMs, 'number');
  assert.ok(r.durationMs >= 0 && r.durationMs < 30_000, `durationMs ${r.durationMs}`);
});

scenario('run.command with a non-zero exit resolves with the exit code (no throw)', async ({ sandbox }) => {
  const r = await sandbox.run.command('echo out; echo err >&2; exit 7');
  assert.equal(r.exitCode, 7);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(r.status, 'failed');
  const viaRunCommand = await sandbox.runCommand('false');
  assert.equal(viaRunCommand.exitCode, 1);
});

scenario('run.command runs a POSIX shell with stdin at /dev/null', async ({ sandbox }) => {
  // `cat` must see EOF immediately instead of hanging on an inherited stdin.
  const r = await withTimeout(sandbox.run.command('cat; echo "[$?]"'), 10_000, 'run.command(cat)');
  assert.equal(r.stdout, '[0]\n');
  const q = await sandbox.run.command(`printf '%s|' 'it'\\''s' "a  b"`);
  assert.equal(q.stdout, "it's|a  b|");
  const dollar0 = await sandbox.run.command('echo "$0"');
  assert.equal(dollar0.stdout, '/bin/sh\n');
});

scenario('run.command default cwd is the sandbox root; cwd option (absolute and relative)', async ({ sandbox, agent }) => {
  const root = await sandbox.run.command('pwd');
  assert.equal(root.stdout, `${agent.root}\n`);
  mkdirSync(join(agent.root, 'sub dir', 'deeper'), { recursive: true });
  const abs = await sandbox.run.command('pwd', { cwd: join(agent.root, 'sub dir', 'deeper') });
  assert.equal(abs.stdout, `${join(agent.root, 'sub dir', 'deeper')}\n`);
  const rel = await sandbox.run.command('pwd', { cwd: 'sub dir' });
  assert.equal(rel.stdout, `${join(agent.root, 'sub dir')}\n`);
  await assert.rejects(sandbox.run.command('pwd', { cwd: join(agent.root, 'no-such-dir') }), /API request failed \(400\)/);
});

scenario('run.command env option adds variables to the inherited environment', async ({ sandbox }) => {
  const r = await sandbox.run.command('printf "%s|%s|%s" "$FOO" "$EMPTY_ONE" "${PATH:+has-path}"', {
    env: { FOO: 'bar baz', EMPTY_ONE: 'ü ✓' },
  });
  assert.equal(r.stdout, 'bar baz|ü ✓|has-path');
  const overridden = await sandbox.run.command('echo "$HOME"', { env: { HOME: '/nowhere' } });
  assert.equal(overridden.stdout, '/nowhere\n');
});

scenario('run.command shell option selects the shell', async ({ sandbox }) => {
  const r = await sandbox.run.command('echo "$0 ${BASH_VERSION:+bash}"', { shell: '/bin/bash' });
  assert.equal(r.stdout, '/bin/bash bash\n');
});

scenario('run.command captures large output and non-UTF-8 bytes', async ({ sandbox }) => {
  const r = await sandbox.run.command('seq 1 100000');
  const expected = Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join('');
  assert.equal(r.stdout.length, expected.length);
  assert.equal(r.stdout, expected);
  const bad = await sandbox.run.command("printf 'a\\377b'");
  assert.equal(bad.stdout, 'a\uFFFDb');
});

// ---------------------------------------------------------------------------------------------
// filesystem.mkdir / filesystem.exists (both go through /run/command)
// ---------------------------------------------------------------------------------------------

scenario('filesystem.mkdir() and filesystem.exists()', async ({ sandbox, agent }) => {
  const dir = join(agent.root, 'made by mkdir', 'nested');
  await sandbox.filesystem.mkdir(dir);
  assert.ok(statSync(dir).isDirectory(), 'mkdir -p created the directory');
  assert.equal(await sandbox.filesystem.exists(dir), true);
  assert.equal(await sandbox.filesystem.exists(join(agent.root, 'made by mkdir', 'nope')), false);
  await sandbox.filesystem.mkdir('relative-made');
  assert.ok(existsSync(join(agent.root, 'relative-made')), 'relative mkdir resolves against the root');
  assert.equal(await sandbox.filesystem.exists('relative-made'), true);
});

// ---------------------------------------------------------------------------------------------
// background + wait
// ---------------------------------------------------------------------------------------------

scenario('run.command({background:true}) returns at once; run.waitForCompletion() gets the result', async ({ sandbox }) => {
  const started = Date.now();
  const r = await sandbox.run.command('sleep 0.5; echo bg-out; echo bg-err >&2; exit 3', { background: true });
  assert.ok(Date.now() - started < 450, `background call took ${Date.now() - started} ms`);
  assert.equal(r.stdout, '');
  assert.equal(r.status, 'running');
  assert.match(r.cmdId ?? '', /^[A-Za-z0-9_-]+$/);
  assert.match(r.terminalId ?? '', /^[A-Za-z0-9_-]+$/);
  const done = await sandbox.run.waitForCompletion(r.terminalId, r.cmdId);
  assert.equal(done.stdout, 'bg-out\n');
  assert.equal(done.stderr, 'bg-err\n');
  assert.equal(done.exitCode, 3);
  assert.equal(done.status, 'failed');
  assert.equal(done.cmdId, r.cmdId);
  assert.ok(done.durationMs >= 400, `durationMs ${done.durationMs}`);
});

scenario('run.command({background:true, waitForCompletion:true}) waits server-side', async ({ sandbox }) => {
  const r = await sandbox.run.command('sleep 0.2; echo waited', { background: true, waitForCompletion: true });
  assert.equal(r.stdout, 'waited\n');
  assert.equal(r.exitCode, 0);
  assert.equal(r.status, 'completed');
  const t = await sandbox.run.command('echo quick', { background: true, waitForCompletion: { timeoutSeconds: 20 } });
  assert.equal(t.stdout, 'quick\n');
});

scenario('a background command is visible as a Command of its implicit terminal (Command.wait)', async ({ sandbox }) => {
  const r = await sandbox.run.command('sleep 0.3; echo via-terminal', { background: true });
  const list = await sandbox.terminal.list();
  const implicit = list.find((t) => t.id === r.terminalId);
  assert.ok(implicit, `implicit terminal ${r.terminalId} not in ${JSON.stringify(list)}`);
  assert.equal(implicit.pty, false);
  const term = await sandbox.terminal.retrieve(r.terminalId);
  assert.equal(term.pty, false);
  const cmd = await term.command.retrieve(r.cmdId);
  assert.equal(cmd.id, r.cmdId);
  assert.equal(cmd.status, 'running');
  assert.equal(cmd.exitCode, undefined);
  await cmd.wait(20);
  assert.equal(cmd.status, 'completed');
  assert.equal(cmd.stdout, 'via-terminal\n');
  assert.equal(cmd.exitCode, 0);
  assert.ok(cmd.finishedAt && Number.isFinite(new Date(cmd.finishedAt).getTime()), `finishedAt ${cmd.finishedAt}`);
});

scenario('Command.wait(timeout) on a still-running command fails with 408', async ({ sandbox }) => {
  const r = await sandbox.run.command('sleep 30', { background: true });
  const term = await sandbox.terminal.retrieve(r.terminalId);
  const cmd = await term.command.retrieve(r.cmdId);
  const started = Date.now();
  await assert.rejects(cmd.wait(0.5), /API request failed \(408\)/);
  const took = Date.now() - started;
  assert.ok(took >= 400 && took < 5_000, `wait(0.5) took ${took} ms`);
  await sandbox.terminal.destroy(r.terminalId); // also kills the sleep
});

// ---------------------------------------------------------------------------------------------
// runCommand streaming over the WebSocket
// ---------------------------------------------------------------------------------------------

scenario('runCommand(cmd, {onStdout, onStderr}) streams chunks and the exit code', async ({ sandbox }) => {
  const out = [];
  const err = [];
  const r = await withTimeout(
    sandbox.runCommand('echo out1; echo err1 >&2; sleep 0.1; echo out2; exit 4', {
      onStdout: (s) => out.push(s),
      onStderr: (s) => err.push(s),
    }),
    20_000,
    'streamed runCommand',
  );
  assert.equal(r.exitCode, 4);
  assert.equal(r.stdout, 'out1\nout2\n');
  assert.equal(r.stderr, 'err1\n');
  assert.equal(out.join(''), 'out1\nout2\n');
  assert.equal(err.join(''), 'err1\n');
  assert.ok(out.length >= 1 && err.length >= 1);
});

scenario('streamed runCommand delivers large output complete and in order, with cwd/env', async ({ sandbox, agent }) => {
  mkdirSync(join(agent.root, 'streamdir'), { recursive: true });
  let chunks = 0;
  const r = await withTimeout(
    sandbox.runCommand('echo "$SBX_X $(pwd)"; seq 1 50000', {
      cwd: 'streamdir',
      env: { SBX_X: 'streamed' },
      onStdout: () => chunks++,
    }),
    30_000,
    'large streamed runCommand',
  );
  const expected = `streamed ${join(agent.root, 'streamdir')}\n` + Array.from({ length: 50000 }, (_, i) => `${i + 1}\n`).join('');
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout.length, expected.length);
  assert.equal(r.stdout, expected);
  assert.ok(chunks >= 1);
});

scenario('two concurrent streamed commands on one socket do not mix', async ({ sandbox }) => {
  // Open the socket first: two concurrent first calls race inside the client (the second sees the
  // manager still connecting and throws "WebSocket is not connected") — a client quirk.
  const warm = await withTimeout(sandbox.runCommand('echo warm', { onStdout: () => {} }), 20_000, 'warm-up stream');
  assert.equal(warm.stdout, 'warm\n');
  const [a, b] = await withTimeout(
    Promise.all([
      sandbox.runCommand('for i in 1 2 3 4 5; do echo A$i; sleep 0.02; done', { onStdout: () => {} }),
      sandbox.runCommand('for i in 1 2 3 4 5; do echo B$i; sleep 0.02; done; exit 2', { onStdout: () => {} }),
    ]),
    20_000,
    'concurrent streamed commands',
  );
  assert.equal(a.stdout, 'A1\nA2\nA3\nA4\nA5\n');
  assert.equal(a.exitCode, 0);
  assert.equal(b.stdout, 'B1\nB2\nB3\nB4\nB5\n');
  assert.equal(b.exitCode, 2);
});

scenario('streamed runCommand with background:true returns at once and still streams', async ({ sandbox }) => {
  let got = '';
  const r = await sandbox.runCommand('sleep 0.2; echo later', { background: true, onStdout: (s) => (got += s) });
  assert.deepEqual(r, { stdout: '', stderr: '', exitCode: 0, durationMs: 0 });
  assert.equal(got, '');
  const deadline = Date.now() + 10_000;
  while (got !== 'later\n' && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  assert.equal(got, 'later\n');
});

// ---------------------------------------------------------------------------------------------
// runCommand({timeout})
// ---------------------------------------------------------------------------------------------

scenario('runCommand(cmd, {timeout}) returns the result when the command finishes in time', async ({ sandbox }) => {
  const r = await sandbox.runCommand('sleep 0.2; echo in-time; exit 5', { timeout: 20 });
  assert.equal(r.stdout, 'in-time\n');
  assert.equal(r.exitCode, 5);
  assert.equal(r.status, 'failed');
});

scenario('runCommand(cmd, {timeout}) rejects when the command outlives the timeout', async ({ sandbox }) => {
  const started = Date.now();
  await assert.rejects(sandbox.runCommand('sleep 20', { timeout: 1 }), /API request failed \(408\)/);
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 10_000, `timeout:1 took ${took} ms`);
});

scenario('streamed runCommand with {timeout} rejects client-side when the command is slow', async ({ sandbox }) => {
  await assert.rejects(
    withTimeout(sandbox.runCommand('sleep 20', { timeout: 1, onStdout: () => {} }), 10_000, 'streamed timeout'),
    /Command timed out after 1 seconds/,
  );
});

// ---------------------------------------------------------------------------------------------
// execute() — legacy
// ---------------------------------------------------------------------------------------------

scenario('execute() (legacy) runs a command and returns the raw envelope', async ({ sandbox }) => {
  const r = await sandbox.execute({ command: 'echo legacy; exit 2' });
  assert.equal(r.status, 'success');
  assert.equal(r.data.stdout, 'legacy\n');
  assert.equal(r.data.exit_code, 2);
  assert.equal(r.data.status, 'failed');
  assert.equal(r.data.command, 'echo legacy; exit 2');
  const bg = await sandbox.execute({ command: 'sleep 0.1; echo bg-legacy', background: true });
  assert.equal(bg.data.status, 'running');
  assert.ok(bg.data.cmd_id && bg.data.terminal_id);
  const done = await sandbox.waitForCommand(bg.data.terminal_id, bg.data.cmd_id, 20);
  assert.equal(done.data.stdout, 'bg-legacy\n');
  assert.equal(done.data.exit_code, 0);
});

// ---------------------------------------------------------------------------------------------
// run.code
// ---------------------------------------------------------------------------------------------

scenario(`run.code('print("Hello!")') returns "Hello!\\n" (announcement example)`, async ({ sandbox }) => {
  const r = await sandbox.run.code('print("Hello!")');
  assert.equal(r.output, 'Hello!\n');
  assert.equal(r.exitCode, 0);
  assert.equal(r.language, 'python');
});

scenario('run.code detects node code', async ({ sandbox }) => {
  const r = await sandbox.run.code('const x = 6 * 7;\nconsole.log(`answer ${x}`);');
  assert.equal(r.output, 'answer 42\n');
  assert.equal(r.exitCode, 0);
  assert.equal(r.language, 'node');
});

scenario('run.code with explicit languages', async ({ sandbox }) => {
  const js = await sandbox.run.code('console.log(process.argv.length > 1)', { language: 'javascript' });
  assert.equal(js.output, 'true\n');
  assert.equal(js.language, 'node');
  const py = await sandbox.run.code('import sys\nprint(sys.version_info[0])', { language: 'python3' });
  assert.equal(py.output, '3\n');
  assert.equal(py.language, 'python');
  const sh = await sandbox.run.code('echo "$((6*7))"', { language: 'sh' });
  assert.equal(sh.output, '42\n');
  assert.equal(sh.language, 'sh');
  const bash = await sandbox.run.code('a=(x y z); echo "${#a[@]}"', { language: 'bash' });
  assert.equal(bash.output, '3\n');
  assert.equal(bash.language, 'bash');
  const viaRunCode = await sandbox.runCode('print(1+1)', 'python');
  assert.equal(viaRunCode.output, '2\n');
});

scenario('run.code reports a non-zero exit code and stdout followed by stderr', async ({ sandbox }) => {
  const r = await sandbox.run.code('import sys\nprint("before")\nsys.stdout.flush()\nsys.stderr.write("oops\\n")\nsys.exit(3)');
  assert.equal(r.exitCode, 3);
  assert.equal(r.output, 'before\noops\n');
  assert.equal(r.language, 'python');
});

scenario('run.code with an unsupported language throws (400)', async ({ sandbox }) => {
  await assert.rejects(sandbox.run.code('puts 1', { language: 'cobol' }), /API request failed \(400\).*cobol/);
});
