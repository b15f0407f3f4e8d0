// Filesystem overlays: filesystem.overlay.create / list / retrieve / destroy / waitForCompletion.
// Every scenario probes GET /filesystem/overlays first and fails if it answers 404
// (a missing route is a regression, not a skip).
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { useAgent } from './harness.mjs';

const { scenario: base } = useAgent();
const scenario = (name, fn) => base(name, fn, { requires: ['GET', '/filesystem/overlays'] });

const templates = [];
after(() => {
  for (const t of templates) rmSync(t, { recursive: true, force: true });
});

/** A template directory outside the sandbox root. */
function makeTemplate() {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'sbx-template-')));
  templates.push(dir);
  const files = {
    'README.md': '# template\n',
    'debug.log': 'noise\n',
    'src/index.js': 'console.log("hi")\n',
    '.git/HEAD': 'ref: refs/heads/main\n',
    'node_modules/pkg/index.js': 'module.exports = 1\n',
    'sub/.venv/bin/python': '#!/bin/sh\n',
  };
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

scenario("overlay.create({strategy:'smart', waitForCompletion:true}) (announcement example)", async ({ sandbox, agent }) => {
  const source = makeTemplate();
  const o = await sandbox.filesystem.overlay.create({ source, target: './react', strategy: 'smart', waitForCompletion: true });
  assert.match(o.id, /^[A-Za-z0-9_-]+$/);
  assert.equal(o.source, source);
  assert.equal(o.target, './react');
  assert.equal(o.strategy, 'smart');
  assert.equal(o.copyStatus, 'complete');
  assert.ok(Number.isFinite(new Date(o.createdAt).getTime()));
  assert.equal(o.stats.copiedFiles, 3, `stats ${JSON.stringify(o.stats)}`);
  assert.ok(o.stats.skipped.includes('.git'), `skipped ${JSON.stringify(o.stats.skipped)}`);
  const target = join(agent.root, 'react');
  assert.equal(readFileSync(join(target, 'src', 'index.js'), 'utf8'), 'console.log("hi")\n');
  assert.equal(readFileSync(join(target, 'debug.log'), 'utf8'), 'noise\n');
  assert.equal(existsSync(join(target, '.git')), false);
  assert.ok(lstatSync(join(target, 'node_modules')).isSymbolicLink(), 'smart links heavy dirs');
  assert.equal(readlinkSync(join(target, 'node_modules')), join(source, 'node_modules'));
  assert.ok(lstatSync(join(target, 'sub', '.venv')).isSymbolicLink(), 'nested heavy dir linked');
  assert.ok(!lstatSync(join(target, 'README.md')).isSymbolicLink(), 'regular files are copies');
  const r = await sandbox.ready();
  assert.deepEqual(
    r.overlays.map((x) => [x.id, x.copy_status]),
    [[o.id, 'complete']],
  );
});

scenario("overlay.create({strategy:'copy', ignore}) copies heavy dirs in the background", async ({ sandbox, agent }) => {
  const source = makeTemplate();
  const created = await sandbox.filesystem.overlay.create({ source, target: 'copied', strategy: 'copy', ignore: ['*.log'] });
  assert.equal(created.strategy, 'copy');
  assert.ok(['pending', 'in_progress', 'complete'].includes(created.copyStatus));
  const o = await sandbox.filesystem.overlay.waitForCompletion(created.id, { initialDelayMs: 50, maxDelayMs: 200, maxRetries: 150 });
  assert.equal(o.copyStatus, 'complete');
  assert.equal(o.stats.copiedFiles, 4, `stats ${JSON.stringify(o.stats)}`);
  assert.equal(o.stats.copiedDirs, 2, `stats ${JSON.stringify(o.stats)}`);
  assert.ok(o.stats.skipped.includes('debug.log'), `skipped ${JSON.stringify(o.stats.skipped)}`);
  assert.ok(o.stats.skipped.includes('.git'));
  const target = join(agent.root, 'copied');
  assert.equal(existsSync(join(target, 'debug.log')), false);
  assert.ok(lstatSync(join(target, 'node_modules')).isDirectory() && !lstatSync(join(target, 'node_modules')).isSymbolicLink());
  assert.equal(readFileSync(join(target, 'node_modules', 'pkg', 'index.js'), 'utf8'), 'module.exports = 1\n');
  assert.equal(readFileSync(join(target, 'sub', '.venv', 'bin', 'python'), 'utf8'), '#!/bin/sh\n');
});

scenario('overlay list / retrieve / destroy (target removed, source untouched)', async ({ sandbox, agent }) => {
  const source = makeTemplate();
  const a = await sandbox.filesystem.overlay.create({ source, target: 'ov-a', strategy: 'smart', waitForCompletion: true });
  const b = await sandbox.filesystem.overlay.create({ source, target: 'ov-b', strategy: 'smart', waitForCompletion: true });
  const list = await sandbox.filesystem.overlay.list();
  const ids = list.map((x) => x.id);
  assert.ok(ids.indexOf(a.id) >= 0 && ids.indexOf(a.id) < ids.indexOf(b.id), `creation order: ${ids}`);
  const got = await sandbox.filesystem.overlay.retrieve(a.id);
  assert.equal(got.id, a.id);
  assert.equal(got.target, 'ov-a');
  assert.equal(await sandbox.filesystem.overlay.destroy(a.id), undefined);
  assert.equal(existsSync(join(agent.root, 'ov-a')), false, 'target tree removed');
  assert.equal(readFileSync(join(source, 'node_modules', 'pkg', 'index.js'), 'utf8'), 'module.exports = 1\n', 'symlinked source not followed');
  assert.ok(existsSync(join(agent.root, 'ov-b', 'README.md')));
  await assert.rejects(sandbox.filesystem.overlay.retrieve(a.id), /API request failed \(404\)/);
  await assert.rejects(sandbox.filesystem.overlay.destroy(a.id), /API request failed \(404\)/);
  assert.deepEqual((await sandbox.filesystem.overlay.list()).map((x) => x.id).filter((id) => id === a.id), []);
});

scenario('overlay.create with a missing source is rejected with 400', async ({ sandbox, agent }) => {
  await assert.rejects(
    sandbox.filesystem.overlay.create({ source: join(agent.root, 'no-such-template'), target: 'x' }),
    /API request failed \(400\)/,
  );
});
