// The one Node harness for a live sandboxd agent, shared by tests/conformance (the official computesdk client) and
// tests/browser (headless Chromium): how the agent is found or built, started on fresh directories, made ready,
// called, and stopped; bounded waits. No npm dependency, so each suite keeps its own node_modules.
//
// Agent binary: $SANDBOXD_PATH (the native executable tests/run.sh publishes; a path ending in .dll runs under
// `dotnet`). Without it the agent is built (agent/Sandboxd.csproj, Debug) once per `node --test` run and run as
// `dotnet agent/bin/Debug/net10.0/sandboxd.dll`.
//
// Every wait is bounded; failures carry the tail of the agent's stderr.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const STDERR_KEEP = 256 * 1024;

/** Polls `cond` (sync or async) until it returns a truthy value; throws after `timeout` ms. */
export async function waitFor(cond, { timeout = 10_000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const extra = lastError ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${extra}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Races `promise` against a deadline so a hung call fails with a clear message. */
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Returns the pids of live (non-zombie) processes whose command line contains `needle` (scans /proc). */
export function pidsMatching(needle) {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && cmdline.includes(needle)) pids.push(Number(d));
    } catch {
      // process vanished
    }
  }
  return pids;
}

/**
 * Collects a spawned service's output on `service`: stderr into `service.stderr` (its last 256 KiB), stdout as lines
 * into `service.stdoutLines` (the ready line is the first). `service.proc` is the child process.
 */
export function captureOutput(service) {
  service.proc.stderr.setEncoding('utf8');
  service.proc.stderr.on('data', (d) => {
    service.stderr += d;
    if (service.stderr.length > STDERR_KEEP) service.stderr = service.stderr.slice(-STDERR_KEEP);
  });
  let partial = '';
  service.proc.stdout.setEncoding('utf8');
  service.proc.stdout.on('data', (d) => {
    partial += d;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      service.stdoutLines.push(partial.slice(0, i));
      partial = partial.slice(i + 1);
    }
  });
}

/** How to run the agent: `{file, prefix}` (prefix = arguments before `start`). */
export function agentCommand() {
  const path = process.env.SANDBOXD_PATH;
  if (path) {
    if (!existsSync(path)) throw new Error(`SANDBOXD_PATH=${path} does not exist`);
    return path.endsWith('.dll') ? { file: 'dotnet', prefix: [path] } : { file: path, prefix: [] };
  }
  const dll = join(repoRoot, 'agent', 'bin', 'Debug', 'net10.0', 'sandboxd.dll');
  // Build once per `node --test` run: every test file is a child of the same runner process.
  const marker = join(tmpdir(), `sandboxd-node-build-${process.ppid}.done`);
  if (!existsSync(marker)) {
    const r = spawnSync('dotnet', ['build', join(repoRoot, 'agent', 'Sandboxd.csproj'), '-c', 'Debug', '-nologo'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (r.status !== 0) {
      throw new Error(`dotnet build failed (status ${r.status}):\n${(r.stdout ?? '').slice(-4000)}\n${(r.stderr ?? '').slice(-2000)}`);
    }
    writeFileSync(marker, new Date().toISOString());
  }
  return { file: 'dotnet', prefix: [dll] };
}

// Agents started by this test-file process. If the process ends without its `after` hook having run (the runner kills
// a file that exceeds --test-timeout, Ctrl-C, a crash), the agents must not outlive it: SIGTERM them on exit, and on a
// termination signal stop them properly first.
const liveAgents = new Set();
process.on('exit', () => {
  for (const a of liveAgents) {
    try {
      a.proc.kill('SIGTERM');
    } catch {
      // already gone
    }
  }
});
for (const [sig, num] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]]) {
  process.once(sig, () => {
    const stops = [...liveAgents].map((a) => a.stop().catch(() => {}));
    withTimeout(Promise.all(stops), 15_000, 'stopping agents')
      .catch(() => {})
      .finally(() => process.exit(128 + num));
  });
}

/** One real agent: `sandboxd start --port 0 --access-token <random> --root <tmp> --state-dir <tmp> …extraArgs`. */
export class AgentProcess {
  /** @param {{extraArgs?: string[], label?: string}} [options] extra `sandboxd start` arguments; temp-dir label */
  constructor({ extraArgs = [], label = 'sbx' } = {}) {
    this.extraArgs = extraArgs;
    this.token = randomBytes(24).toString('hex');
    this.root = realpathSync(mkdtempSync(join(tmpdir(), `${label}-root-`)));
    this.stateDir = realpathSync(mkdtempSync(join(tmpdir(), `${label}-state-`)));
    this.stdoutLines = [];
    this.stderr = '';
    this.url = null;
    this.proc = null;
    this.exit = null; // {code, signal} once exited
  }

  async start() {
    const { file, prefix } = agentCommand();
    const args = [...prefix, 'start', '--port', '0', '--access-token', this.token, '--root', this.root, '--state-dir', this.stateDir, ...this.extraArgs];
    this.commandLine = [file, ...args].join(' ');
    const started = Date.now();
    // PTY shells (`bash -i`) must not read the runner's dotfiles (a `pyenv init` rc is slow, and a shell killed in it
    // leaves a lock that hangs the next one): HOME is an empty directory of this agent's own.
    const home = join(this.stateDir, 'home');
    mkdirSync(home, { recursive: true });
    const env = { ...process.env, HOME: home };
    for (const name of ['SANDBOXD_URL', 'SANDBOXD_TOKEN', 'COMPUTESDK_ACCESS_TOKEN', 'COMPUTESDK_API_KEY', 'SANDBOXD_STATE_DIR']) delete env[name];
    this.proc = spawn(file, args, { cwd: this.root, stdio: ['ignore', 'pipe', 'pipe'], env });
    liveAgents.add(this);
    this.exited = new Promise((res) => {
      this.proc.on('exit', (code, signal) => {
        liveAgents.delete(this);
        this.exit = { code, signal };
        res(this.exit);
      });
    });
    captureOutput(this);
    const spawnError = new Promise((_, reject) => this.proc.on('error', (e) => reject(new Error(`cannot start agent: ${e.message}`))));
    await Promise.race([
      spawnError,
      waitFor(
        () => {
          if (this.exit) throw new Error(`agent exited before ready (${JSON.stringify(this.exit)})`);
          const line = this.stdoutLines.find((l) => l.startsWith('sandboxd ready '));
          const m = line && /^sandboxd ready (https?:\/\/\S+)$/.exec(line);
          return m ? m[1] : null;
        },
        { timeout: READY_TIMEOUT_MS, what: `"sandboxd ready <url>" on stdout of: ${this.commandLine}` },
      ).then((url) => {
        this.url = url;
      }),
    ]).catch((e) => {
      e.message += `\n--- agent stderr (tail) ---\n${this.stderrTail()}`;
      throw e;
    });
    this.readyMs = Date.now() - started;
    return this;
  }

  /** An HTTP call with the access token; returns {status, body (parsed JSON or text)}. */
  async call(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.url + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: parsed };
  }

  stderrTail(lines = 60) {
    return this.stderr.split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, a bounded wait, then SIGKILL (noted in `stopProblem`); removes the agent's directories. */
  async stop() {
    if (this.proc && !this.exit) {
      this.proc.kill('SIGTERM');
      const graceful = await withTimeout(this.exited, STOP_GRACE_MS, 'agent exit after SIGTERM').catch(() => null);
      if (!graceful) {
        this.stopProblem = `agent did not exit within ${STOP_GRACE_MS} ms of SIGTERM; sent SIGKILL`;
        this.proc.kill('SIGKILL');
        await withTimeout(this.exited, 5_000, 'agent exit after SIGKILL').catch(() => null);
      }
    }
    for (const dir of [this.root, this.stateDir]) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  }
}
