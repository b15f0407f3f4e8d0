// Shared harness for the browser suite: a live sandboxd agent and headless Chromium (Debian's package, driven by
// playwright-core, which cannot download a browser of its own here).
//
// Agent: $SANDBOXD_PATH (the native executable tests/run.sh publishes; a path ending in .dll runs under `dotnet`).
// Without it the harness builds agent/Sandboxd.csproj (Debug) once per `node --test` run and runs
// `dotnet agent/bin/Debug/net10.0/sandboxd.dll`.
// Browser: $CHROMIUM_PATH, default /usr/bin/chromium (`apt-get install -y chromium`).
//
// Every wait is bounded; there are no fixed sleeps.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const artifactsDir = join(here, 'artifacts');

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const STDERR_KEEP = 256 * 1024;

/** Polls `cond` until it returns a truthy value; throws after `timeout` ms. */
export async function waitFor(cond, { timeout = 10_000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

function agentCommand() {
  const path = process.env.SANDBOXD_PATH;
  if (path) {
    if (!existsSync(path)) throw new Error(`SANDBOXD_PATH=${path} does not exist`);
    return path.endsWith('.dll') ? { file: 'dotnet', prefix: [path] } : { file: path, prefix: [] };
  }
  const dll = join(repoRoot, 'agent', 'bin', 'Debug', 'net10.0', 'sandboxd.dll');
  // Build once per `node --test` run: every test file is a child of the same runner process.
  const marker = join(tmpdir(), `sandboxd-browser-build-${process.ppid}.done`);
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

export class Agent {
  constructor() {
    this.token = randomBytes(24).toString('hex');
    this.root = realpathSync(mkdtempSync(join(tmpdir(), 'sbx-browser-root-')));
    this.stateDir = realpathSync(mkdtempSync(join(tmpdir(), 'sbx-browser-state-')));
    this.stdoutLines = [];
    this.stderr = '';
    this.url = null;
    this.proc = null;
    this.exit = null;
  }

  async start() {
    const { file, prefix } = agentCommand();
    const args = [...prefix, 'start', '--port', '0', '--access-token', this.token, '--root', this.root, '--state-dir', this.stateDir];
    // PTY shells (`bash -i`) must not read the runner's dotfiles (a `pyenv init` rc is slow, and a shell killed in it
    // leaves a lock that hangs the next one): HOME is an empty directory of this agent's own.
    const home = join(this.stateDir, 'home');
    mkdirSync(home, { recursive: true });
    this.proc = spawn(file, args, { cwd: this.root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: home } });
    this.exited = new Promise((res) => this.proc.on('exit', (code, signal) => res((this.exit = { code, signal }))));
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-STDERR_KEEP);
    });
    let partial = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => {
      partial += d;
      let i;
      while ((i = partial.indexOf('\n')) >= 0) {
        this.stdoutLines.push(partial.slice(0, i));
        partial = partial.slice(i + 1);
      }
    });
    const spawnError = new Promise((_, reject) => this.proc.on('error', (e) => reject(new Error(`cannot start agent: ${e.message}`))));
    this.url = await Promise.race([
      spawnError,
      waitFor(() => {
        if (this.exit) throw new Error(`agent exited before ready (${JSON.stringify(this.exit)})`);
        const line = this.stdoutLines.find((l) => l.startsWith('sandboxd ready '));
        return line && /^sandboxd ready (https?:\/\/\S+)$/.exec(line)?.[1];
      }, { timeout: READY_TIMEOUT_MS, what: `"sandboxd ready <url>" from ${file} ${args.join(' ')}` }),
    ]).catch((e) => {
      e.message += `\n--- agent stderr (tail) ---\n${this.stderrTail()}`;
      throw e;
    });
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

  async magicLink() {
    const { status, body } = await this.call('POST', '/auth/magic-links', {});
    if (status !== 201 && status !== 200) throw new Error(`POST /auth/magic-links -> ${status} ${JSON.stringify(body)}`);
    return body.data.magic_url;
  }

  stderrTail(lines = 60) {
    return this.stderr.split('\n').slice(-lines).join('\n');
  }

  async stop() {
    if (this.proc && !this.exit) {
      this.proc.kill('SIGTERM');
      const timer = (ms) => new Promise((r) => setTimeout(r, ms).unref());
      if (!(await Promise.race([this.exited, timer(STOP_GRACE_MS)]))) {
        this.proc.kill('SIGKILL');
        await Promise.race([this.exited, timer(5_000)]);
      }
    }
    for (const dir of [this.root, this.stateDir]) rmSync(dir, { recursive: true, force: true });
  }
}

/** Headless Chromium with a fresh profile (launch() gives every browser its own temporary user-data-dir). */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    timeout: 60_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Saves a screenshot under tests/browser/artifacts/ (best effort); returns its path. */
export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const path = join(artifactsDir, name);
  await page.screenshot({ path, timeout: 15_000 }).catch(() => {});
  return path;
}
