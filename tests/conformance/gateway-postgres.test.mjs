// Two sandboxd-gateway processes on one PostgreSQL database (--store postgres://…, docs/adr/0010-gateway-postgres.md)
// through the official computesdk@2.5.4 client: a sandbox created through gateway A is got, found, used and destroyed
// through gateway B; findOrCreate from both at once makes one sandbox. PostgreSQL: tests/conformance/postgres.mjs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Gateway, pidsWithEnv, waitFor, withTimeout } from './harness.mjs';
import { PostgresServer, postgresSkipReason } from './postgres.mjs';

const skip = postgresSkipReason();
let pg;
let db;
let a;
let b;
before(async () => {
  if (skip) return;
  pg = await PostgresServer.start();
  db = pg.createDatabase('conformance');
  a = await new Gateway({ extraArgs: ['--store', db.url] }).start();
  b = await new Gateway({ keys: a.keys, extraArgs: ['--store', db.url] }).start();
});
after(async () => {
  try {
    await a?.dispose();
    await b?.dispose();
  } finally {
    pg?.stop();
  }
});

function scenario(name, fn) {
  test(name, { skip: skip ?? false }, async () => {
    try {
      await fn();
    } catch (e) {
      e.message = `${e.message}\n--- gateway A stderr (tail) ---\n${a?.stderrTail()}\n--- gateway B stderr (tail) ---\n${b?.stderrTail()}`;
      throw e;
    }
  });
}

scenario('create on gateway A; getById, findOrCreate, run and destroy through gateway B', async () => {
  const viaA = a.compute();
  const viaB = b.compute();
  const created = await withTimeout(viaA.sandbox.create({ name: 'shared', namespace: 'pg', metadata: { via: 'a' } }), 60_000, 'create on A');
  a.ids.add(created.sandboxId);
  assert.equal((await created.run.command('echo from-a')).stdout.trim(), 'from-a');

  const got = await viaB.sandbox.getById(created.sandboxId);
  assert.ok(got, 'B knows the sandbox A created');
  assert.equal(got.sandboxId, created.sandboxId);
  assert.equal((await got.run.command('echo from-b')).stdout.trim(), 'from-b');

  const found = await viaB.sandbox.findOrCreate({ name: 'shared', namespace: 'pg' });
  assert.equal(found.sandboxId, created.sandboxId, 'findOrCreate on B finds it rather than making another');
  const byFind = await viaB.sandbox.find({ name: 'shared', namespace: 'pg' });
  assert.equal(byFind?.sandboxId, created.sandboxId);

  await viaB.sandbox.destroy(created.sandboxId);
  await waitFor(() => pidsWithEnv('COMPUTESDK_SANDBOX_ID', new Set([created.sandboxId])).length === 0, { timeout: 30_000, what: "the agent A started to end after B's destroy" });
  assert.equal(await viaA.sandbox.getById(created.sandboxId), null, 'A sees it gone');
  assert.equal(await viaB.sandbox.getById(created.sandboxId), null, 'B sees it gone');
  assert.equal(pg.sql(db.name, `SELECT status FROM sandboxes WHERE id = '${created.sandboxId}'`), 'gone');
});

scenario('findOrCreate of one name from both gateways at once makes one sandbox', async () => {
  const clients = [a.compute(), b.compute(), a.compute(1), b.compute(1)];
  const calls = [];
  for (let i = 0; i < 8; i++) calls.push(clients[i % 2].sandbox.findOrCreate({ name: 'race', namespace: 'pg' }));
  const sandboxes = await withTimeout(Promise.all(calls), 120_000, 'eight findOrCreate');
  const ids = new Set(sandboxes.map((s) => s.sandboxId));
  assert.equal(ids.size, 1, `one sandbox, got ${[...ids].join(', ')}`);
  const [id] = ids;
  a.ids.add(id);
  assert.equal(pg.sql(db.name, "SELECT count(*) FROM sandboxes WHERE name = 'race'"), '1');
  // Another key's findOrCreate of the same name is its own sandbox (names are per key), whichever gateway it uses.
  const other = await clients[3].sandbox.findOrCreate({ name: 'race', namespace: 'pg' });
  b.ids.add(other.sandboxId);
  assert.notEqual(other.sandboxId, id);
  await clients[2].sandbox.destroy(other.sandboxId);
  await clients[1].sandbox.destroy(id);
  assert.equal(await clients[0].sandbox.getById(id), null);
});
