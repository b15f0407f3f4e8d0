// File watchers: watcher.create / list / retrieve / destroy and `change` events over the WebSocket.
// Every scenario probes GET /watchers first and fails if it answers 404.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nextEvent, useAgent, waitFor } from './harness.mjs';

const { scenario: base } = useAgent();
const scenario = (name, fn) => base(name, fn, { requires: ['GET', '/watchers'] });

function collect(watcher) {
  const events = [];
  watcher.on('change', (e) => events.push(e));
  return events;
}

async function waitEvent(events, pred, what, timeout = 10_000) {
  try {
    return await waitFor(() => events.find(pred), { timeout, what });
  } catch (e) {
    e.message += `\n--- events so far ---\n${JSON.stringify(events, null, 1).slice(0, 3000)}`;
    throw e;
  }
}

scenario('watcher.create(dir, {includeContent:true}) reports add/change/unlink with content', async ({ sandbox, agent }) => {
  const dir = join(agent.root, 'watched');
  mkdirSync(dir);
  const w = await sandbox.watcher.create(dir, { includeContent: true });
  assert.match(w.getId(), /^[A-Za-z0-9_-]+$/);
  assert.equal(w.getPath(), dir);
  assert.equal(w.getStatus(), 'active');
  assert.equal(w.isActive(), true);
  assert.equal(w.getChannel(), `watcher:${w.getId()}`);
  assert.equal(w.isIncludingContent(), true);
  assert.deepEqual(w.getIgnoredPatterns(), []);
  const events = collect(w);
  const file = join(dir, 'a.txt');
  // written immediately after create: must not be lost (agent backlog covers the subscribe race)
  writeFileSync(file, 'first ✓');
  const add = await waitEvent(events, (e) => e.path === file && e.event === 'add', 'add event');
  assert.equal(add.content, 'first ✓');
  writeFileSync(file, 'second');
  const change = await waitEvent(events, (e) => e.path === file && e.event === 'change', 'change event');
  assert.equal(change.content, 'second');
  unlinkSync(file);
  const unlink = await waitEvent(events, (e) => e.path === file && e.event === 'unlink', 'unlink event');
  assert.equal(unlink.content, undefined);
  const sub = join(dir, 'nested', 'deeper');
  mkdirSync(sub, { recursive: true });
  await waitEvent(events, (e) => e.path === join(dir, 'nested') && e.event === 'addDir', 'addDir event');
  writeFileSync(join(sub, 'deep.txt'), 'deep');
  const deep = await waitEvent(events, (e) => e.path === join(sub, 'deep.txt') && e.event === 'add', 'recursive add');
  assert.equal(deep.content, 'deep');
  rmSync(join(dir, 'nested'), { recursive: true });
  await waitEvent(events, (e) => e.path === join(dir, 'nested') && e.event === 'unlinkDir', 'unlinkDir event');
  await w.destroy();
});

scenario('watcher without includeContent sends no content; relative path resolves against the root', async ({ sandbox, agent }) => {
  mkdirSync(join(agent.root, 'rel-watched'));
  const w = await sandbox.watcher.create('rel-watched');
  assert.equal(w.getPath(), join(agent.root, 'rel-watched'));
  assert.equal(w.isIncludingContent(), false);
  const events = collect(w);
  writeFileSync(join(agent.root, 'rel-watched', 'x.txt'), 'x');
  const add = await waitEvent(events, (e) => e.event === 'add', 'add event');
  assert.equal(add.path, join(agent.root, 'rel-watched', 'x.txt'));
  assert.equal(add.content, undefined);
  await w.destroy();
});

scenario('ignored globs suppress events', async ({ sandbox, agent }) => {
  const dir = join(agent.root, 'ign');
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  const w = await sandbox.watcher.create(dir, { ignored: ['*.log', 'node_modules'] });
  assert.deepEqual(w.getIgnoredPatterns(), ['*.log', 'node_modules']);
  const events = collect(w);
  writeFileSync(join(dir, 'debug.log'), 'noise');
  writeFileSync(join(dir, 'node_modules', 'dep.js'), 'noise');
  writeFileSync(join(dir, 'sentinel-1.txt'), '1');
  await waitEvent(events, (e) => e.path.endsWith('sentinel-1.txt'), 'first sentinel');
  writeFileSync(join(dir, 'sentinel-2.txt'), '2');
  await waitEvent(events, (e) => e.path.endsWith('sentinel-2.txt'), 'second sentinel');
  const leaked = events.filter((e) => e.path.endsWith('.log') || e.path.includes('node_modules'));
  assert.deepEqual(leaked, []);
  await w.destroy();
});

scenario("encoding:'base64' content is decoded by the client", async ({ sandbox, agent }) => {
  const dir = join(agent.root, 'b64w');
  mkdirSync(dir);
  const w = await sandbox.watcher.create(dir, { includeContent: true, encoding: 'base64' });
  const events = collect(w);
  writeFileSync(join(dir, 'u.txt'), 'héllo ✓');
  const add = await waitEvent(events, (e) => e.event === 'add', 'add event');
  assert.equal(add.content, 'héllo ✓');
  await w.destroy();
});

scenario('watcher.list(), watcher.retrieve(), destroy() fires destroyed and stops events', async ({ sandbox, agent }) => {
  const dir = join(agent.root, 'lifecycle');
  mkdirSync(dir);
  const w = await sandbox.watcher.create(dir);
  const id = w.getId();
  const list = await sandbox.watcher.list();
  const item = list.find((x) => x.id === id);
  assert.ok(item, `watcher ${id} not listed: ${JSON.stringify(list)}`);
  assert.equal(item.path, dir);
  assert.equal(item.status, 'active');
  const info = await sandbox.watcher.retrieve(id);
  assert.equal(info.id, id);
  assert.equal(info.channel, `watcher:${id}`);
  assert.deepEqual(info.ignored, []);
  assert.equal(info.includeContent, false);
  const destroyed = nextEvent(w, 'destroyed', 10_000);
  const events = collect(w);
  await sandbox.watcher.destroy(id);
  await destroyed;
  assert.equal(w.getStatus(), 'stopped');
  assert.equal((await sandbox.watcher.list()).find((x) => x.id === id), undefined);
  await assert.rejects(sandbox.watcher.retrieve(id), /API request failed \(404\)/);
  await assert.rejects(sandbox.watcher.destroy(id), /API request failed \(404\)/);
  assert.deepEqual(events, []);
});

scenario('watcher.create on a missing path is 404, on a file is 400', async ({ sandbox, agent }) => {
  await assert.rejects(sandbox.watcher.create(join(agent.root, 'nope')), /API request failed \(404\)/);
  writeFileSync(join(agent.root, 'plain.txt'), '');
  await assert.rejects(sandbox.watcher.create(join(agent.root, 'plain.txt')), /API request failed \(400\)/);
});
