// bench/gateway measurer: the official client (computesdk@2.5.4) against a running sandboxd-gateway.
//   node measure.mjs --gateway URL --key K --gateway-pid PID --agent PATH --work DIR --out JSON
//                    [--sequential 50] [--concurrency 10] [--rounds 5] [--live 100] [--meta k=v]...
// Times, per sandbox, compute.sandbox.create() → the first answered sandbox.run.command('true') (what computesdk's own
// provider benchmarks time), sequentially and N at a time; interleaved with the sequential ones, the floor: exec one
// `sandboxd start --port 0` → its first GET /health 200. Then holds `--live` sandboxes and reads the gateway's VmRSS.
// Every sandbox it creates is destroyed before it exits (also on failure); every floor agent is stopped and reaped.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compute } from 'computesdk';

globalThis.WebSocket = (await import('ws')).default;

const args = parseArgs(process.argv.slice(2));
const sdk = compute({ provider: 'just-bash', computesdkApiKey: args.key, gatewayUrl: args.gateway });
const live = new Set();

function parseArgs(argv) {
  const out = { sequential: 50, concurrency: 10, rounds: 5, live: 100, meta: {} };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase()), argv[i + 1]];
    if (name === 'meta') { const at = value.indexOf('='); out.meta[value.slice(0, at)] = value.slice(at + 1); }
    else out[name] = /^\d+$/.test(value) ? Number(value) : value;
  }
  for (const required of ['gateway', 'key', 'gatewayPid', 'agent', 'work', 'out']) {
    if (out[required] === undefined || out[required] === '') throw new Error(`missing --${required}`);
  }
  return out;
}

/** create() → first run.command('true'), in ms; the sandbox stays in `live` until destroyed. */
async function createToFirstCommand() {
  const started = performance.now();
  const sandbox = await sdk.sandbox.create();
  live.add(sandbox);
  const result = await sandbox.run.command('true');
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`run.command('true') exited ${result.exitCode}`);
  return { ms, sandbox };
}

async function destroy(sandbox) {
  await sandbox.destroy();
  live.delete(sandbox);
}

/** exec `sandboxd start --port 0` → its first GET /health 200, in ms; then SIGTERM, reaped. */
async function floorOnce(i) {
  const dir = join(args.work, `floor-${i}`);
  mkdirSync(join(dir, 'root'), { recursive: true });
  mkdirSync(join(dir, 'state'), { recursive: true });
  const started = performance.now();
  const child = spawn(args.agent, ['start', '--port', '0', '--host', '127.0.0.1', '--access-token', 'floor',
    '--root', join(dir, 'root'), '--state-dir', join(dir, 'state'), '--log-level', 'Warning'],
  { cwd: join(dir, 'root'), stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const url = await readyUrl(child, 30_000);
    for (const deadline = performance.now() + 30_000; ; await sleep(0.5)) {
      const ok = await fetch(`${url}/health`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - started;
      if (performance.now() > deadline) throw new Error('floor agent: no /health 200 within 30 s');
    }
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

function readyUrl(child, timeoutMs) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('floor agent: no ready line within 30 s')), timeoutMs);
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const match = /^sandboxd ready (\S+)/m.exec(text);
      if (match) { clearTimeout(timer); resolve(match[1].replace(/\/$/, '')); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`floor agent exited ${code} before its ready line`)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const rank = (q) => s[Math.max(0, Math.ceil(q * s.length) - 1)]; // nearest rank
  return { n: s.length, p50_ms: rank(0.5), p99_ms: rank(0.99), min_ms: s[0], max_ms: s[s.length - 1],
    mean_ms: s.reduce((a, b) => a + b, 0) / s.length };
}

async function run() {
  const sequential = [], floor = [], concurrent = [];
  await floorOnce('warm'); // page the binary in for both sides alike
  await destroy((await createToFirstCommand()).sandbox);
  for (let i = 0; i < args.sequential; i++) { // interleaved: a burst of load weighs on both
    floor.push(await floorOnce(i));
    const { ms, sandbox } = await createToFirstCommand();
    sequential.push(ms);
    await destroy(sandbox);
  }
  for (let r = 0; r < args.rounds; r++) {
    const round = await Promise.all(Array.from({ length: args.concurrency }, () => createToFirstCommand()));
    concurrent.push(...round.map((x) => x.ms));
    await Promise.all(round.map((x) => destroy(x.sandbox)));
  }
  const rssIdle = rssKb(args.gatewayPid);
  for (let made = 0; made < args.live; made += args.concurrency) {
    await Promise.all(Array.from({ length: Math.min(args.concurrency, args.live - made) }, () => createToFirstCommand()));
  }
  const rssLive = rssKb(args.gatewayPid);
  const held = live.size;
  await Promise.all([...live].map(destroy));
  return { sequential: stats(sequential), concurrent: stats(concurrent), floor: stats(floor),
    gateway_rss_kb: { idle: rssIdle, live: rssLive, live_sandboxes: held },
    samples: { sequential, concurrent, floor } };
}

function report(r) {
  const row = (label, s) => `${label.padEnd(62)} ${String(s.n).padStart(4)} ${s.p50_ms.toFixed(1).padStart(8)} ${s.p99_ms.toFixed(1).padStart(8)} ${s.min_ms.toFixed(1).padStart(8)}`;
  const lines = [
    `machine: ${Object.entries(args.meta).map(([k, v]) => `${k}: ${v}`).join('; ')}`,
    `${'measure'.padEnd(62)} ${'n'.padStart(4)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'min ms'.padStart(8)}`,
    row('create() → first run.command(\'true\'), one at a time', r.sequential),
    row(`create() → first run.command('true'), ${args.concurrency} at a time`, r.concurrent),
    row('floor: exec sandboxd start --port 0 → first GET /health 200', r.floor),
    `ours / floor (p50): sequential ${(r.sequential.p50_ms / r.floor.p50_ms).toFixed(2)}x; ` +
      `${args.concurrency} at a time ${(r.concurrent.p50_ms / r.floor.p50_ms).toFixed(2)}x`,
    `gateway RSS: ${(r.gateway_rss_kb.idle / 1024).toFixed(1)} MB idle after the runs; ` +
      `${(r.gateway_rss_kb.live / 1024).toFixed(1)} MB with ${r.gateway_rss_kb.live_sandboxes} live sandboxes`,
  ];
  return lines.join('\n');
}

try {
  const result = await run();
  console.log(report(result));
  writeFileSync(args.out, JSON.stringify({ meta: args.meta, ...result }, null, 2));
} finally {
  const left = [...live];
  if (left.length > 0) {
    console.error(`destroying ${left.length} sandboxes left by a failure`);
    await Promise.allSettled(left.map((s) => s.destroy()));
  }
}
