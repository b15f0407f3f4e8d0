// The fleet (issue 16 item 6): two sandboxd-gateway processes sharing one PostgreSQL database (--store postgres://…,
// ADR 0010) and the same two Docker engines (--provider docker, ADR 0009), driven by the official computesdk@2.5.4
// client through `gatewayUrl`:
//   placement across both engines (a create through A and one through B land on different engines),
//   findOrCreate of one name from both gateways at once → one sandbox, one record, one container,
//   engine b stopped (its sandboxes `unavailable` on both gateways, nothing placed there) and started again (ready,
//     same files),
//   a snapshot on A, a create from it on B, destroys from the other gateway,
//   gateway A killed by SANDBOXD_GATEWAY_CRASH_AT=after-container-create mid-create: the surviving gateway B (the sweep
//     lease holder once A's heartbeat has run out) removes the container and makes the record gone; A restarted on its
//     state dir serves again.
// Each gateway has its own state dir, hence its own --gateway-id (the documented default, docs/gateway.md): a gateway
// removes only orphans labelled with its own id; records a dead gateway left `creating` are repaired by the lease holder
// (ADR 0010), which removes the container by name on the record's engine.
// Engines: tests/docker/engines.sh; PostgreSQL: postgres.mjs. Without root/docker.io or PostgreSQL this file SKIPS,
// saying so on stderr — unless CI=true or SANDBOXD_REQUIRE_DOCKER=1, where that is a failure.
// At the end: no sandbox container on either engine, no live record, and no dockerd/containerd/postgres of ours left.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Gateway, pidsMatching, pidsWithEnv, repoRoot, waitFor, withTimeout } from './harness.mjs';
import { PostgresServer, postgresSkipReason } from './postgres.mjs';

const required = process.env.CI === 'true' || process.env.SANDBOXD_REQUIRE_DOCKER === '1';
const script = join(repoRoot, 'tests', 'docker', 'engines.sh');
const dir = mkdtempSync('/tmp/sbxd-fleet-');
rmSync(dir, { recursive: true }); // engines.sh makes it
const DOCKER = spawnSync('sh', ['-c', 'test -x /usr/bin/docker && echo /usr/bin/docker || command -v docker'], { encoding: 'utf8' }).stdout.trim() || 'docker';
const CREATE_MS = 120_000; // a container create + start + the agent's /health on a loaded 2-CPU machine
// tests/run.sh runs the suite with --test-timeout=300000, which bounds this whole file (engines up, the scenarios,
// engines down). The scenarios stop engines and wait out a heartbeat, so each has its own (bounded) timeout; before()
// may build the agent image once (engines.sh, ≈ minutes).
const SCENARIO_MS = 6 * 60_000;
const SETUP_MS = 15 * 60_000;

let skip = postgresSkipReason(); // throws under CI=true
let engines = null;
let pg;
let db;
let a;
let b;
const keys = [`k${Math.random().toString(16).slice(2)}${Date.now()}`, `k${Math.random().toString(16).slice(2)}x`];
let gatewayArgs;

const t0 = Date.now();
/** Progress on stderr with the seconds since the file started: where the time of a slow run went. */
const phase = (what) => console.error(`# fleet +${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);

// If the runner kills this file (its --test-timeout) after() does not run: the engines and the PostgreSQL server
// must not outlive it (the harness kills the gateways on exit the same way).
let downed = false;
process.on('exit', () => {
  if (engines && !downed) spawnSync(script, ['down', dir], { timeout: 60_000 });
  try {
    if (pg && existsSync(pg.dir)) pg.stop();
  } catch {
    // best effort at exit
  }
});

function engineScript(...args) {
  return spawnSync(script, [args[0], dir, ...args.slice(1)], { encoding: 'utf8', timeout: 8 * 60_000, env: { ...process.env } });
}

/** `docker` against engine `name` (a or b): stdout, trimmed; throws on failure. */
function docker(name, ...args) {
  const r = spawnSync(DOCKER, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DOCKER_HOST: engines[`DOCKER_${name.toUpperCase()}`] } });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} on engine ${name}: ${r.status} ${r.stderr}`);
  return r.stdout.trim();
}

/** Ids of the containers (any state) on engine `name` carrying label `label` (e.g. sandboxd.sandbox=<id>). */
function containers(name, label = 'sandboxd.sandbox') {
  const out = docker(name, 'ps', '-a', '-q', '--filter', `label=${label}`);
  return out ? out.split('\n') : [];
}

const onEngines = (label) => ({ a: containers('a', label).length, b: containers('b', label).length });

function startGateway({ stateDir, env } = {}) {
  return new Gateway({ keys, stateDir, env, extraArgs: gatewayArgs }).start();
}

before(async () => {
  if (skip) return;
  phase('engines.sh up');
  const up = engineScript('up');
  if (up.status === 77) {
    const why = `FLEET CONFORMANCE SKIPPED: ${up.stderr.trim()}`;
    if (required) throw new Error(`CI=true / SANDBOXD_REQUIRE_DOCKER=1: ${why}`);
    console.error(`*** ${why}`);
    skip = why;
    return;
  }
  assert.equal(up.status, 0, `engines.sh up failed:\n${up.stderr}`);
  engines = Object.fromEntries(up.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  phase('engines up; PostgreSQL');
  pg = await PostgresServer.start();
  db = pg.createDatabase('fleet');
  gatewayArgs = [
    '--store', db.url,
    '--provider', 'docker', '--docker-image', engines.IMAGE, '--docker-pull', 'never',
    '--docker-host', `a=${engines.DOCKER_A},capacity=8`, '--docker-host', `b=${engines.DOCKER_B},capacity=8`,
    // An outage is seen within ≈ 1 s; orphans of a gateway's own are removed 5 s after they appear.
    '--docker-health-interval', '500', '--docker-health-failures', '2', '--orphan-grace', '5',
  ];
  a = await startGateway();
  b = await startGateway();
  phase('gateways A and B ready');
}, { timeout: SETUP_MS });

after(async () => {
  const problems = [];
  const attempt = async (what, fn) => {
    try {
      await fn();
    } catch (e) {
      problems.push(`${what}: ${e.message}`);
    }
  };
  if (engines) {
    // Nothing a test made may be left on the engines, nor a live record in the database.
    await attempt('containers left on the engines', async () => {
      const found = [];
      for (const n of ['a', 'b']) {
        const left = containers(n);
        if (left.length) {
          docker(n, 'rm', '-f', ...left);
          found.push(`engine ${n}: ${left.join(' ')}`);
        }
      }
      if (found.length) throw new Error(`sandbox containers were left (removed now): ${found.join('; ')}`);
    });
    await attempt('live records left', async () => {
      const live = pg.sql(db.name, "SELECT id || ' ' || status FROM sandboxes WHERE status <> 'gone'");
      assert.equal(live, '', 'no record may be left creating/ready/destroying');
    });
  }
  await attempt('gateway A', () => a?.dispose());
  await attempt('gateway B', () => b?.dispose());
  await attempt('postgres', async () => {
    const pgDir = pg?.dir;
    pg?.stop();
    if (pgDir) assert.deepEqual(pidsMatching(pgDir), [], 'no postgres process of ours is left');
  });
  if (engines) {
    await attempt('engines.sh down', async () => {
      phase('engines.sh down');
      downed = true;
      const down = engineScript('down');
      assert.equal(down.status, 0, `engines.sh down failed:\n${down.stderr}`);
      assert.deepEqual(pidsMatching(dir), [], 'no dockerd/containerd/shim of the test engines is left');
    });
  }
  phase('after() done');
  if (problems.length) throw new Error(problems.join('\n'));
}, { timeout: SETUP_MS });

function scenario(name, fn) {
  test(name, { skip: skip ? skip : false, timeout: SCENARIO_MS }, async (t) => {
    if (skip) return t.skip(skip); // the engines' skip is only known once before() ran
    phase(`scenario: ${name}`);
    try {
      await fn();
    } catch (e) {
      e.message = `${e.message}\n--- gateway A stderr (tail) ---\n${a?.stderrTail()}\n--- gateway B stderr (tail) ---\n${b?.stderrTail()}`;
      throw e;
    }
  });
}

/** The gateway's own JSON for a sandbox (its `engine` and `status`), through its REST route. */
async function raw(gw, id) {
  const r = await gw.call('GET', `/v1/sandboxes/${id}`);
  assert.equal(r.status, 200, `GET /v1/sandboxes/${id} through ${gw.url}: ${r.text}`);
  return r.body.data;
}

scenario('placement: a create through A and one through B land on both engines; each is used through the other gateway', async () => {
  const viaA = a.compute();
  const viaB = b.compute();
  const first = await withTimeout(viaA.sandbox.create({ envs: { VIA: 'a' } }), CREATE_MS, 'create through A');
  a.ids.add(first.sandboxId);
  const second = await withTimeout(viaB.sandbox.create({ envs: { VIA: 'b' } }), CREATE_MS, 'create through B');
  b.ids.add(second.sandboxId);
  assert.equal(first.provider, 'docker');
  const engineOf = { [first.sandboxId]: (await raw(b, first.sandboxId)).engine, [second.sandboxId]: (await raw(a, second.sandboxId)).engine };
  assert.deepEqual(new Set(Object.values(engineOf)), new Set(['a', 'b']), `one on each engine (the store's counts are shared): ${JSON.stringify(engineOf)}`);
  for (const [id, engine] of Object.entries(engineOf)) {
    assert.deepEqual(onEngines(`sandboxd.sandbox=${id}`), { a: engine === 'a' ? 1 : 0, b: engine === 'b' ? 1 : 0 }, `the container of ${id} is on engine ${engine} only`);
  }
  // Each used through the gateway that did not create it.
  const firstViaB = await viaB.sandbox.getById(first.sandboxId);
  assert.equal((await firstViaB.run.command('echo $VIA')).stdout, 'a\n');
  const secondViaA = await viaA.sandbox.getById(second.sandboxId);
  assert.equal((await secondViaA.run.command('echo $VIA')).stdout, 'b\n');
  await viaB.sandbox.destroy(first.sandboxId);
  await viaA.sandbox.destroy(second.sandboxId);
  assert.equal(await viaA.sandbox.getById(first.sandboxId), null);
  assert.equal(await viaB.sandbox.getById(second.sandboxId), null);
  for (const id of Object.keys(engineOf)) assert.deepEqual(onEngines(`sandboxd.sandbox=${id}`), { a: 0, b: 0 }, `destroy removed ${id}'s container`);
});

scenario('findOrCreate of one name from both gateways at once makes one sandbox, one record, one container', async () => {
  const clients = [a.compute(), b.compute()];
  const earlier = new Set([...containers('a'), ...containers('b')]); // left by a failed scenario before: not this one's
  const calls = Array.from({ length: 6 }, (_, i) => clients[i % 2].sandbox.findOrCreate({ name: 'fleet-race', namespace: 'fleet' }));
  const sandboxes = await withTimeout(Promise.all(calls), 2 * CREATE_MS, 'six findOrCreate over two gateways');
  const ids = new Set(sandboxes.map((s) => s.sandboxId));
  assert.equal(ids.size, 1, `one sandbox, got ${[...ids].join(', ')}`);
  const [id] = ids;
  a.ids.add(id);
  assert.equal(pg.sql(db.name, "SELECT count(*) FROM sandboxes WHERE name = 'fleet-race'"), '1', 'one record');
  const where = onEngines(`sandboxd.sandbox=${id}`);
  assert.equal(where.a + where.b, 1, `one container over both engines: ${JSON.stringify(where)}`);
  // No other container was made for the name and left behind by a losing create.
  const made = [...containers('a'), ...containers('b')].filter((c) => !earlier.has(c));
  assert.equal(made.length, 1, `only that container was made: ${made.join(' ')}`);
  assert.equal((await sandboxes[1].run.command('echo raced')).stdout, 'raced\n');
  await clients[1].sandbox.destroy(id);
  assert.equal(await clients[0].sandbox.find({ name: 'fleet-race', namespace: 'fleet' }), null);
});

scenario('engine b stopped: its sandbox is unavailable on both gateways, creates go to a; started again: ready, same files', async () => {
  const viaA = a.compute();
  const viaB = b.compute();
  // Creates alternate between the gateways until one sandbox is on each engine (placement by free capacity: two
  // suffice on empty engines; up to four if an earlier failed scenario left sandboxes behind).
  const made = [];
  const on = {};
  for (let i = 0; i < 4 && !(on.a && on.b); i++) {
    const s = await withTimeout([viaA, viaB][i % 2].sandbox.create(), CREATE_MS, 'create');
    a.ids.add(s.sandboxId);
    made.push(s);
    on[(await raw(a, s.sandboxId)).engine] ??= s;
  }
  assert.ok(on.a && on.b, `a sandbox on each engine: ${Object.keys(on).join(', ')}`);
  const victim = on.b;
  const other = on.a;
  await victim.filesystem.writeFile('kept.txt', 'survives the engine restart\n');

  phase('engines.sh stop b');
  const stop = engineScript('stop', 'b');
  assert.equal(stop.status, 0, `engines.sh stop b:\n${stop.stderr}`);
  phase('engine b stopped');
  try {
    for (const gw of [a, b]) {
      // Through the REST route: the official client's getById waits for a sandbox to answer /health (30 attempts) and
      // then throws, so an unavailable sandbox cannot be seen through it (seen with computesdk@2.5.4).
      await waitFor(async () => (await raw(gw, victim.sandboxId)).status === 'unavailable', { timeout: 30_000, interval: 200, what: `${gw.url} to report the sandbox on the stopped engine unavailable` });
      const destroy = await gw.call('DELETE', `/v1/sandboxes/${victim.sandboxId}`);
      assert.equal(destroy.status, 503, `destroy while its engine is down answers 503: ${destroy.text}`);
    }
    assert.equal(pg.sql(db.name, `SELECT status FROM sandboxes WHERE id = '${victim.sandboxId}'`), 'ready', 'the record is kept, not deleted');
    // Nothing is placed on the stopped engine, whichever gateway is asked.
    const during = await withTimeout(viaB.sandbox.create(), CREATE_MS, 'create during the outage');
    b.ids.add(during.sandboxId);
    made.push(during);
    assert.equal((await raw(a, during.sandboxId)).engine, 'a');
    assert.equal((await during.run.command('echo up')).stdout, 'up\n');
    assert.equal((await raw(b, other.sandboxId)).status, 'ready', 'the sandbox on engine a is not affected');
  } finally {
    phase('engines.sh start b');
    const start = engineScript('start', 'b'); // also when an assertion failed: later scenarios need both engines
    assert.equal(start.status, 0, `engines.sh start b:\n${start.stderr}`);
    phase('engine b started');
  }
  // Ready again on both gateways, at the address the engine restarted it on (a host-network engine: a new port, which
  // the sweep-lease holder reads back within ≈ 2 s; until then `ready` can carry the old URL).
  for (const gw of [a, b]) {
    await waitFor(async () => {
      const data = await raw(gw, victim.sandboxId);
      return data.status === 'ready' && (await fetch(`${data.url}/health`, { signal: AbortSignal.timeout(2_000) })).status === 200;
    }, { timeout: 60_000, interval: 250, what: `${gw.url} to report the sandbox ready again, at an address that answers, after engine b restarted` });
  }
  // Back through either gateway with the official client, with its files.
  const backViaB = await withTimeout(viaB.sandbox.getById(victim.sandboxId), 60_000, 'getById through B after the restart');
  assert.equal(await backViaB.filesystem.readFile('kept.txt'), 'survives the engine restart\n');
  const back = await viaA.sandbox.getById(victim.sandboxId);
  assert.equal((await back.run.command('cat kept.txt')).stdout, 'survives the engine restart\n');
  for (const s of made) await viaA.sandbox.destroy(s.sandboxId);
  for (const s of made) assert.deepEqual(onEngines(`sandboxd.sandbox=${s.sandboxId}`), { a: 0, b: 0 }, `${s.sandboxId}'s container removed`);
});

scenario('a snapshot taken through A, a sandbox created from it through B; each destroyed through the other gateway', async () => {
  const viaA = a.compute();
  const viaB = b.compute();
  const source = await withTimeout(viaA.sandbox.create(), CREATE_MS, 'create the source on A');
  a.ids.add(source.sandboxId);
  await source.filesystem.writeFile('notes/fleet.txt', 'kept by the snapshot\n');
  const snapshot = await withTimeout(viaA.snapshot.create(source.sandboxId, { name: 'fleet' }), CREATE_MS, 'snapshot on A');
  assert.match(snapshot.id, /^snap_/);
  assert.equal(snapshot.provider, 'docker');
  const restored = await withTimeout(viaB.sandbox.create({ snapshotId: snapshot.id }), CREATE_MS, 'create from the snapshot on B');
  b.ids.add(restored.sandboxId);
  assert.equal(await restored.filesystem.readFile('notes/fleet.txt'), 'kept by the snapshot\n');
  const sourceEngine = (await raw(b, source.sandboxId)).engine;
  assert.equal((await raw(a, restored.sandboxId)).engine, sourceEngine, 'a sandbox of a snapshot starts on the engine holding the image');
  assert.deepEqual((await viaB.snapshot.list()).map((s) => s.id), [snapshot.id], 'B lists the snapshot A took');

  await viaB.sandbox.destroy(source.sandboxId);
  await viaA.sandbox.destroy(restored.sandboxId);
  assert.equal(await viaA.sandbox.getById(source.sandboxId), null);
  assert.equal(await viaB.sandbox.getById(restored.sandboxId), null);
  for (const id of [source.sandboxId, restored.sandboxId]) assert.deepEqual(onEngines(`sandboxd.sandbox=${id}`), { a: 0, b: 0 }, `${id}'s container removed`);
  await viaB.snapshot.delete(snapshot.id);
  assert.deepEqual(await viaA.snapshot.list(), []);
  assert.equal(docker(sourceEngine, 'images', '-q', `sandboxd-snapshot:${snapshot.id}`), '', 'the snapshot image is removed from its engine');
});

scenario('gateway A killed right after the container create: B removes the container and the record is gone; A restarts and serves', async () => {
  const stateDir = a.stateDir;
  await a.stop(); // a clean stop: B holds the sweep lease from now on
  a = await startGateway({ stateDir, env: { SANDBOXD_GATEWAY_CRASH_AT: 'after-container-create' } });
  const crashing = a;
  await assert.rejects(withTimeout(crashing.compute().sandbox.create({ name: 'crashed', namespace: 'fleet' }), CREATE_MS, 'create through the crashing gateway'),
    'the create fails: its gateway died');
  const exit = await withTimeout(crashing.exited, 10_000, 'the crashing gateway to exit');
  assert.equal(exit.signal, 'SIGKILL', `the gateway killed itself at the crash point: ${JSON.stringify(exit)}\n${crashing.stderrTail()}`);

  // Between the engine call and the store write: a container without a finished record.
  const id = pg.sql(db.name, "SELECT id FROM sandboxes WHERE name = 'crashed' AND status = 'creating'");
  assert.match(id, /^\S+$/, 'the record was left creating');
  crashing.ids.add(id);
  const left = onEngines(`sandboxd.sandbox=${id}`);
  assert.equal(left.a + left.b, 1, `its container exists on one engine: ${JSON.stringify(left)}`);

  // The surviving gateway repairs it once A's heartbeat has run out (10 s): container removed, record gone.
  phase('waiting for B to repair the crashed create');
  await waitFor(() => pg.sql(db.name, `SELECT status FROM sandboxes WHERE id = '${id}'`) === 'gone', { timeout: 60_000, interval: 250, what: 'gateway B to mark the crashed create gone' });
  await waitFor(() => { const n = onEngines(`sandboxd.sandbox=${id}`); return n.a + n.b === 0; }, { timeout: 30_000, interval: 250, what: 'the orphan container to be removed' });
  assert.equal(b.exit, null, 'B kept serving');
  assert.equal(await b.compute().sandbox.find({ name: 'crashed', namespace: 'fleet' }), null, 'the name is free again');

  // A restarted on its state dir (its own gateway id) serves; findOrCreate of the freed name makes a new sandbox.
  a = await startGateway({ stateDir });
  const again = await withTimeout(a.compute().sandbox.findOrCreate({ name: 'crashed', namespace: 'fleet' }), CREATE_MS, 'findOrCreate of the freed name on the restarted A');
  a.ids.add(again.sandboxId);
  assert.notEqual(again.sandboxId, id);
  assert.equal((await again.run.command('echo back')).stdout, 'back\n');
  await b.compute().sandbox.destroy(again.sandboxId);
  assert.deepEqual(onEngines(`sandboxd.sandbox=${again.sandboxId}`), { a: 0, b: 0 });
  assert.deepEqual(pidsWithEnv('COMPUTESDK_SANDBOX_ID', new Set([id, again.sandboxId])), [], 'no process of either sandbox is left');
});
