// bench/gateway measurer: the official client (computesdk@2.5.4) against a running sandboxd-gateway.
//   node measure.mjs --gateway URL --key K --gateway-pid PID --agent PATH --work DIR --out JSON
//                    [--sequential 50] [--concurrency 10] [--rounds 5] [--live 100] [--meta k=v]...
//                    [--floor agent|docker --docker-host unix://… --image IMG --docker PATH-OF-THE-DOCKER-CLI]
// Times, per sandbox, compute.sandbox.create() → the first answered sandbox.run.command('true') (what computesdk's own
// provider benchmarks time), sequentially and N at a time; interleaved with the sequential ones, the floor: exec one
// `sandboxd start --port 0` → its first GET /health 200. Then holds `--live` sandboxes and reads the gateway's VmRSS.
// With `--floor docker` (the gateway's docker provider) the floor is `docker run -d` of the same image on the same
// engine → its first GET /health 200, one at a time (interleaved as above) and `--concurrency` at a time (as many
// rounds as ours), so both of our figures have a floor taken the same way in the same run.
// Every sandbox it creates is destroyed before it exits (also on failure); every floor agent is stopped and reaped.
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compute } from 'computesdk';

globalThis.WebSocket = (await import('ws')).default;

const args = parseArgs(process.argv.slice(2));
const sdk = compute({ provider: 'just-bash', computesdkApiKey: args.key, gatewayUrl: args.gateway });
const live = new Set();

function parseArgs(argv) {
  const out = { sequential: 50, concurrency: 10, rounds: 5, live: 100, floor: 'agent', meta: {} };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase()), argv[i + 1]];
    if (name === 'meta') { const at = value.indexOf('='); out.meta[value.slice(0, at)] = value.slice(at + 1); }
    else out[name] = /^\d+$/.test(value) ? Number(value) : value;
  }
  for (const required of ['gateway', 'key', 'gatewayPid', 'agent', 'work', 'out']) {
    if (out[required] === undefined || out[required] === '') throw new Error(`missing --${required}`);
  }
  if (out.floor === 'docker') {
    for (const required of ['dockerHost', 'image', 'docker']) {
      if (!out[required]) throw new Error(`--floor docker needs --${required.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    }
  } else if (out.floor !== 'agent') throw new Error(`--floor agent|docker, not ${out.floor}`);
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

/** `n` distinct free TCP ports on 127.0.0.1 (bound together, then released). */
async function freePorts(n) {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((server) => server.address().port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** The docker CLI against the benchmark's engine: stdout. */
function dockerCli(argv, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    execFile(args.docker, argv, { env: { ...process.env, DOCKER_HOST: args.dockerHost }, timeout: timeoutMs },
      (error, stdout, stderr) => (error ? reject(new Error(`docker ${argv.join(' ')}: ${error.message} ${stderr}`)) : resolve(stdout.trim())));
  });
}

/**
 * The docker floor: `docker run -d` of the image (its own entrypoint: the agent on 18080, published to `port` on
 * 127.0.0.1) → its first GET /health 200, in ms; then the container is removed (not timed).
 */
async function dockerFloorOnce(port) {
  const started = performance.now();
  let id = null;
  try {
    id = await dockerCli(['run', '-d', '--label', 'sandboxd.bench=floor', '-p', `127.0.0.1:${port}:18080`, args.image, '--access-token', 'floor']);
    for (const deadline = performance.now() + 60_000; ; await sleep(0.5)) {
      // docker-proxy accepts before the agent listens and may hold the request: each try is bounded by a timer that
      // keeps the event loop alive (undici's idle socket does not, and node would exit 13 mid-await).
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 2_000);
      const ok = await fetch(`http://127.0.0.1:${port}/health`, { signal: abort.signal })
        .then((r) => r.status === 200, () => false).finally(() => clearTimeout(timer));
      if (ok) return performance.now() - started;
      if (performance.now() > deadline) throw new Error('docker floor: no /health 200 within 60 s');
    }
  } finally {
    if (id) await dockerCli(['rm', '-f', '-v', id]);
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
  const sequential = [], floor = [], concurrent = [], floorConcurrent = [];
  const docker = args.floor === 'docker';
  const floorSample = docker ? async () => dockerFloorOnce((await freePorts(1))[0]) : floorOnce;
  await floorSample('warm'); // page the binary (and the image's layers) in for both sides alike
  await destroy((await createToFirstCommand()).sandbox);
  for (let i = 0; i < args.sequential; i++) { // interleaved: a burst of load weighs on both
    floor.push(await floorSample(i));
    const { ms, sandbox } = await createToFirstCommand();
    sequential.push(ms);
    await destroy(sandbox);
  }
  for (let r = 0; r < args.rounds; r++) {
    const round = await Promise.all(Array.from({ length: args.concurrency }, () => createToFirstCommand()));
    concurrent.push(...round.map((x) => x.ms));
    await Promise.all(round.map((x) => destroy(x.sandbox)));
    if (docker) floorConcurrent.push(...await Promise.all((await freePorts(args.concurrency)).map(dockerFloorOnce)));
  }
  const rssIdle = rssKb(args.gatewayPid);
  for (let made = 0; made < args.live; made += args.concurrency) {
    await Promise.all(Array.from({ length: Math.min(args.concurrency, args.live - made) }, () => createToFirstCommand()));
  }
  const rssLive = rssKb(args.gatewayPid);
  const held = live.size;
  await Promise.all([...live].map(destroy));
  return { floor_kind: args.floor, sequential: stats(sequential), concurrent: stats(concurrent), floor: stats(floor),
    ...(docker ? { floor_concurrent: stats(floorConcurrent) } : {}),
    gateway_rss_kb: { idle: rssIdle, live: rssLive, live_sandboxes: held },
    samples: { sequential, concurrent, floor, ...(docker ? { floor_concurrent: floorConcurrent } : {}) } };
}

function report(r) {
  const row = (label, s) => `${label.padEnd(74)} ${String(s.n).padStart(4)} ${s.p50_ms.toFixed(1).padStart(8)} ${s.p99_ms.toFixed(1).padStart(8)} ${s.min_ms.toFixed(1).padStart(8)}`;
  const ratio = (ours, floor, q) => (ours[q] / floor[q]).toFixed(2);
  const header = [
    `machine: ${Object.entries(args.meta).map(([k, v]) => `${k}: ${v}`).join('; ')}`,
    `${'measure'.padEnd(74)} ${'n'.padStart(4)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'min ms'.padStart(8)}`,
  ];
  if (r.floor_kind === 'docker') {
    return [
      ...header,
      row('docker provider: create() → first run.command(\'true\'), 1 at a time', r.sequential),
      row(`docker provider: create() → first run.command('true'), ${args.concurrency} at once`, r.concurrent),
      row('floor: docker run -d IMAGE → first GET /health 200, 1 at a time', r.floor),
      row(`floor: docker run -d IMAGE → first GET /health 200, ${args.concurrency} at once`, r.floor_concurrent),
      `ours / floor: 1 at a time p50 ${ratio(r.sequential, r.floor, 'p50_ms')}x, p99 ${ratio(r.sequential, r.floor, 'p99_ms')}x; ` +
        `${args.concurrency} at once p50 ${ratio(r.concurrent, r.floor_concurrent, 'p50_ms')}x, p99 ${ratio(r.concurrent, r.floor_concurrent, 'p99_ms')}x (target: within 1.3x)`,
      `gateway RSS: ${(r.gateway_rss_kb.idle / 1024).toFixed(1)} MB after the runs`,
    ].join('\n');
  }
  const lines = [
    ...header,
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
