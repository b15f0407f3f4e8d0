// Harness for the conformance scenarios: starts a live sandboxd agent per test file (through the agent harness
// shared with tests/browser, tests/harness/agent.mjs) and hands each scenario a fresh computesdk@2.5.4 `Sandbox`
// client pointed at it; starts gateways for the gateway scenarios.
//
// Every wait is bounded; failures carry the tail of the agent's stderr.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentProcess, captureOutput, pidsMatching, repoRoot, waitFor, withTimeout } from '../harness/agent.mjs';
import WS from 'ws';

// daemon-websocket.md §9: the client reads WebSocket.OPEN etc. from the *global* binding.
globalThis.WebSocket = WS;

const { Sandbox } = await import('computesdk');
export { Sandbox, pidsMatching, repoRoot, waitFor, withTimeout };

const READY_TIMEOUT_MS = 60_000;
/**
 * Bound for waits that include an interactive shell starting up: bash reads ~/.bashrc (e.g. a
 * pyenv init costs seconds on a loaded machine), so PTY waits get a generous deadline.
 */
export const SLOW_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Small bounded-wait utilities
// ---------------------------------------------------------------------------------------------

/** Resolves with the first `event` emitted by a TerminalInstance-like emitter, bounded. */
export function nextEvent(emitter, event, ms, what = `'${event}' event`) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.on(event, handler);
  });
  return withTimeout(p, ms, what).finally(() => emitter.off?.(event, handler));
}

// ---------------------------------------------------------------------------------------------
// Agent process
// ---------------------------------------------------------------------------------------------

/** The conformance suite's agent: the shared agent process plus a computesdk client for it. */
export class Agent extends AgentProcess {
  /** A fresh client for this agent; callers must `await sandbox.disconnect()`. */
  client(extra = {}) {
    return new Sandbox({ sandboxUrl: this.url, sandboxId: 'x', provider: 'local', token: this.token, ...extra });
  }

  /**
   * Probes a route with the access token: returns a description if the agent answers 404/405 with
   * its unknown-route error (the route is missing: scenarios fail on it), else null.
   */
  async missingRoute(method, path) {
    const res = await withTimeout(
      fetch(`${this.url}${path}`, { method, headers: { Authorization: `Bearer ${this.token}` } }),
      10_000,
      `probe ${method} ${path}`,
    );
    const body = await res.text();
    return res.status === 404 || res.status === 405 ? `${method} ${path} -> ${res.status} ${body.slice(0, 200)}` : null;
  }
}

/**
 * Registers before/after hooks that start one agent (options: see Agent) for the calling test file and stop it
 * afterwards; returns `{ ctx, scenario }`. `scenario(name, fn, opts)` runs `fn({ sandbox, agent, t })`
 * with a fresh client that is always disconnected, and appends the agent's stderr tail to failures.
 */
export function useAgent(options) {
  const ctx = { agent: null };
  before(async () => {
    ctx.agent = await new Agent(options).start();
  });
  after(async () => {
    await ctx.agent?.stop();
  });
  function scenario(name, fn, opts = {}) {
    const { requires, ...testOpts } = opts;
    test(name, testOpts, async (t) => {
      const agent = ctx.agent;
      assertAgentAlive(agent);
      if (requires) {
        const missing = await agent.missingRoute(...requires);
        // Every feature is built: a route that answers 404 is a regression, never a skip.
        if (missing) throw new Error(`route missing from the agent: ${missing}`);
      }
      const sandbox = agent.client();
      try {
        await fn({ sandbox, agent, t });
      } catch (e) {
        const tail = agent.stderrTail();
        const status = agent.exit ? `agent exited: ${JSON.stringify(agent.exit)}` : 'agent still running';
        if (e && typeof e === 'object') {
          try {
            e.message = `${e.message}\n--- ${status}; agent stderr (tail) ---\n${tail}`;
          } catch {
            // non-writable message
          }
        }
        throw e;
      } finally {
        await sandbox.disconnect();
      }
    });
  }
  return { ctx, scenario };
}

function assertAgentAlive(agent) {
  if (!agent || !agent.url) throw new Error('agent was not started');
  if (agent.exit) throw new Error(`agent has exited (${JSON.stringify(agent.exit)})\n${agent.stderrTail()}`);
}

/** Collects every `output` chunk of a PTY TerminalInstance. */
export function collectOutput(terminal) {
  const c = { text: '', chunks: 0 };
  terminal.on('output', (s) => {
    c.text += s;
    c.chunks++;
  });
  return c;
}

/** Strips ANSI escape sequences and carriage returns from PTY output. */
export function plain(s) {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '').replace(/\x1b[()][A-Z0-9]/g, '').replace(/\r/g, '');
}

// ---------------------------------------------------------------------------------------------
// Gateway process (sandboxd-gateway): $SANDBOXD_GATEWAY_PATH, running agents from $SANDBOXD_PATH
// ---------------------------------------------------------------------------------------------

/** Gateways started by this test-file process; killed (with their sandboxes) if the file ends abnormally. */
const liveGateways = new Set();
process.on('exit', () => {
  for (const g of liveGateways) g.killEverythingSync();
});

export class Gateway {
  /**
   * @param {{keys?: string[], stateDir?: string, extraArgs?: string[], env?: Record<string, string>}} [options] API
   *   keys (default two random ones), a state dir (default a fresh one; pass an earlier gateway's to restart on the
   *   same state) and variables added to the gateway's environment (e.g. SANDBOXD_GATEWAY_CRASH_AT).
   */
  constructor({ keys, stateDir, extraArgs = [], env = {} } = {}) {
    this.keys = keys ?? [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];
    this.stateDir = stateDir ?? realpathSync(mkdtempSync(join(tmpdir(), 'sbx-gw-')));
    this.extraArgs = extraArgs;
    this.env = env;
    this.stdoutLines = [];
    this.stderr = '';
    this.url = null;
    this.proc = null;
    this.exit = null;
    /** Ids of sandboxes this test created (their processes carry COMPUTESDK_SANDBOX_ID=<id>). */
    this.ids = new Set();
  }

  static binary() {
    const path = process.env.SANDBOXD_GATEWAY_PATH;
    if (!path || !existsSync(path)) throw new Error(`SANDBOXD_GATEWAY_PATH must name the published sandboxd-gateway (got ${path})`);
    const agent = process.env.SANDBOXD_PATH;
    if (!agent || !existsSync(agent)) throw new Error(`SANDBOXD_PATH must name the published sandboxd agent (got ${agent})`);
    return { path, agent };
  }

  async start() {
    const { path, agent } = Gateway.binary();
    const args = ['start', '--port', '0', '--host', '127.0.0.1', '--state-dir', this.stateDir, '--agent', agent, ...this.keys.flatMap((k) => ['--api-key', k]), ...this.extraArgs];
    this.commandLine = [path, ...args].join(' ');
    this.stdoutLines = [];
    this.exit = null;
    this.proc = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.env } });
    liveGateways.add(this);
    this.exited = new Promise((res) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        res(this.exit);
      });
    });
    captureOutput(this);
    this.url = await waitFor(
      () => {
        if (this.exit) throw new Error(`gateway exited before ready (${JSON.stringify(this.exit)})\n${this.stderrTail()}`);
        const m = this.stdoutLines.length && /^sandboxd-gateway ready (http:\/\/\S+)$/.exec(this.stdoutLines[0]);
        return m ? m[1] : null;
      },
      { timeout: READY_TIMEOUT_MS, what: `"sandboxd-gateway ready <url>" on stdout of: ${this.commandLine}` },
    );
    return this;
  }

  /** A `compute` manager for key `i` (default the first) through `gatewayUrl`, as the announcement configures it. */
  compute(i = 0, extra = {}) {
    return computeFactory({ provider: 'just-bash', computesdkApiKey: this.keys[i], gatewayUrl: this.url, WebSocket: WS, ...extra });
  }

  /** A raw gateway call: {status, body} (body parsed as JSON when it is). */
  async call(method, path, { key = this.keys[0], body } = {}) {
    const headers = { 'Content-Type': 'application/json' };
    if (key !== null) headers['X-ComputeSDK-API-Key'] = key;
    const res = await withTimeout(
      fetch(`${this.url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) }),
      30_000,
      `${method} ${path}`,
    );
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: json, text };
  }

  /** pids of every process started for this gateway's sandboxes (agents, bwrap, their children): labelled by the state dir. */
  sandboxPids() {
    const ids = new Set(this.ids);
    try {
      for (const d of readdirSync(join(this.stateDir, 'sandboxes'))) ids.add(d);
    } catch {
      // no sandbox yet
    }
    const pids = new Set(pidsMatching(join(this.stateDir, 'sandboxes')));
    for (const pid of pidsWithEnv('COMPUTESDK_SANDBOX_ID', ids)) pids.add(pid);
    return [...pids];
  }

  async kill9() {
    this.proc.kill('SIGKILL');
    await withTimeout(this.exited, 10_000, 'gateway exit after SIGKILL');
    liveGateways.delete(this);
  }

  /** SIGTERM; asserts a clean exit within 15 s. Sandboxes keep running (they outlive the gateway by design). */
  async stop() {
    if (this.proc && !this.exit) {
      this.proc.kill('SIGTERM');
      const exit = await withTimeout(this.exited, 15_000, 'gateway exit after SIGTERM').catch(() => null);
      if (!exit) {
        this.proc.kill('SIGKILL');
        await withTimeout(this.exited, 5_000, 'gateway exit after SIGKILL').catch(() => null);
        throw new Error(`gateway did not exit within 15 s of SIGTERM\n${this.stderrTail()}`);
      }
      if (exit.code !== 0) throw new Error(`gateway exited with ${JSON.stringify(exit)} after SIGTERM\n${this.stderrTail()}`);
    }
    liveGateways.delete(this);
  }

  /**
   * Test teardown: stops the gateway, SIGKILLs whatever sandbox process is left, and fails if any survives; removes
   * the state dir.
   */
  async dispose() {
    let problem = null;
    try {
      await this.stop();
    } catch (e) {
      problem = e;
    }
    const left = this.sandboxPids();
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await waitFor(() => this.sandboxPids().length === 0, { timeout: 10_000, what: 'sandbox processes to be gone' });
    rmSync(this.stateDir, { recursive: true, force: true });
    if (problem) throw problem;
    if (left.length && !this.allowLeftovers) {
      throw new Error(`sandbox processes were still running after every test destroyed its sandboxes (killed now): ${left.map((p) => `${p} ${cmdlineOf(p)}`).join('; ')}`);
    }
    return left;
  }

  killEverythingSync() {
    try {
      this.proc?.kill('SIGKILL');
    } catch {
      // gone
    }
    for (const pid of this.sandboxPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  stderrTail(lines = 60) {
    return this.stderr.split('\n').slice(-lines).join('\n');
  }
}

const { compute: computeFactory } = await import('computesdk');
export { computeFactory as compute };

function cmdlineOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 200);
  } catch {
    return '(gone)';
  }
}

/** Live processes whose environment has NAME=<one of values>. */
export function pidsWithEnv(name, values) {
  const pids = [];
  if (values.size === 0) return pids;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && env.some((e) => e.startsWith(`${name}=`) && values.has(e.slice(name.length + 1)))) pids.push(Number(d));
    } catch {
      // process vanished
    }
  }
  return pids;
}

/** True when the gateway runs its agents under bubblewrap (it says so in its log). */
export function gatewayIsolates(gateway) {
  return /isolated with \S*bwrap/.test(gateway.stderr);
}
