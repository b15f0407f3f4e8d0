// file.* and filesystem.* (except mkdir/exists, which are in run.test.mjs).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useAgent } from './harness.mjs';

const { scenario } = useAgent();

function assertFileInfo(info, { name, path, size, isDir }) {
  assert.equal(info.name, name);
  assert.equal(info.path, path);
  assert.equal(info.is_dir, isDir);
  if (size !== undefined) assert.equal(info.size, size);
  assert.equal(typeof info.modified_at, 'string');
  const t = new Date(info.modified_at).getTime();
  assert.ok(Number.isFinite(t), `modified_at not parseable: ${info.modified_at}`);
  assert.ok(Math.abs(t - Date.now()) < 24 * 3600_000, `modified_at ${info.modified_at} implausible`);
}

scenario('file.create() writes content (relative path, parents created) and returns FileInfo', async ({ sandbox, agent }) => {
  const info = await sandbox.file.create('created/sub/hello.txt', 'hi there ✓');
  const abs = join(agent.root, 'created', 'sub', 'hello.txt');
  assertFileInfo(info, { name: 'hello.txt', path: abs, size: Buffer.byteLength('hi there ✓'), isDir: false });
  assert.equal(readFileSync(abs, 'utf8'), 'hi there ✓');
  // overwrite
  await sandbox.file.create('created/sub/hello.txt', 'v2');
  assert.equal(readFileSync(abs, 'utf8'), 'v2');
  // no content: touch (existing file untouched, missing file created empty)
  await sandbox.file.create('created/sub/hello.txt');
  assert.equal(readFileSync(abs, 'utf8'), 'v2');
  const empty = await sandbox.file.create(join(agent.root, 'created', 'empty.txt'));
  assert.equal(empty.size, 0);
  assert.equal(readFileSync(join(agent.root, 'created', 'empty.txt'), 'utf8'), '');
});

scenario('file.create() on an existing directory fails with 400', async ({ sandbox, agent }) => {
  mkdirSync(join(agent.root, 'a-dir'));
  await assert.rejects(sandbox.file.create('a-dir', 'x'), /API request failed \(400\)/);
  assert.ok(statSync(join(agent.root, 'a-dir')).isDirectory());
});

scenario('file.retrieve() / readFile() return the text (relative and absolute)', async ({ sandbox, agent }) => {
  writeFileSync(join(agent.root, 'r.txt'), 'line1\nline2 ü\n');
  assert.equal(await sandbox.file.retrieve('r.txt'), 'line1\nline2 ü\n');
  assert.equal(await sandbox.readFile(join(agent.root, 'r.txt')), 'line1\nline2 ü\n');
  writeFileSync(join(agent.root, 'blank.txt'), '');
  assert.equal(await sandbox.file.retrieve('blank.txt'), '');
  writeFileSync(join(agent.root, 'bin.dat'), Buffer.from([0x61, 0xff, 0x62]));
  assert.equal(await sandbox.file.retrieve('bin.dat'), 'a\uFFFDb');
  await assert.rejects(sandbox.file.retrieve('missing.txt'), /API request failed \(404\)/);
  mkdirSync(join(agent.root, 'dir-read'));
  await assert.rejects(sandbox.file.retrieve('dir-read'), /API request failed \(400\)/);
});

scenario('getFile() returns metadata without content', async ({ sandbox, agent }) => {
  writeFileSync(join(agent.root, 'meta.txt'), '12345');
  const r = await sandbox.getFile('meta.txt');
  assertFileInfo(r.data.file, { name: 'meta.txt', path: join(agent.root, 'meta.txt'), size: 5, isDir: false });
  assert.equal(r.data.content, undefined);
});

scenario('file.list() / readdir() list direct children sorted by name, dot-files included', async ({ sandbox, agent }) => {
  const dir = join(agent.root, 'listing');
  mkdirSync(join(dir, 'zdir', 'inner'), { recursive: true });
  writeFileSync(join(dir, 'b.txt'), 'bb');
  writeFileSync(join(dir, 'a.txt'), 'a');
  writeFileSync(join(dir, '.hidden'), '');
  writeFileSync(join(dir, 'zdir', 'inner', 'deep.txt'), 'deep');
  symlinkSync(join(dir, 'zdir'), join(dir, 'link-to-dir'));
  const files = await sandbox.file.list(dir);
  assert.deepEqual(
    files.map((f) => f.name),
    ['.hidden', 'a.txt', 'b.txt', 'link-to-dir', 'zdir'],
  );
  assertFileInfo(files[1], { name: 'a.txt', path: join(dir, 'a.txt'), size: 1, isDir: false });
  assertFileInfo(files[4], { name: 'zdir', path: join(dir, 'zdir'), isDir: true });
  assert.equal(files[3].is_dir, true, 'symlink to a directory reports is_dir true');
  const rel = await sandbox.file.list('listing');
  assert.deepEqual(rel.map((f) => f.name), files.map((f) => f.name));
  const entries = await sandbox.filesystem.readdir(dir);
  const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
  assert.equal(byName['b.txt'].type, 'file');
  assert.equal(byName['b.txt'].size, 2);
  assert.equal(byName.zdir.type, 'directory');
  assert.ok(byName['a.txt'].modified instanceof Date && !Number.isNaN(byName['a.txt'].modified.getTime()));
  const raw = await sandbox.listFiles(dir);
  assert.equal(raw.data.path, dir);
  await assert.rejects(sandbox.file.list(join(agent.root, 'no-such-dir')), /API request failed \(404\)/);
  await assert.rejects(sandbox.file.list(join(dir, 'a.txt')), /API request failed \(400\)/);
});

scenario('file.exists() for files, directories and missing paths', async ({ sandbox, agent }) => {
  writeFileSync(join(agent.root, 'ex.txt'), 'x');
  mkdirSync(join(agent.root, 'ex-dir'));
  assert.equal(await sandbox.file.exists('ex.txt'), true);
  assert.equal(await sandbox.file.exists(join(agent.root, 'ex.txt')), true);
  assert.equal(await sandbox.file.exists('ex-dir'), true);
  assert.equal(await sandbox.file.exists('nope.txt'), false);
  assert.equal(await sandbox.file.exists(join(agent.root, 'nope', 'deeper.txt')), false);
});

scenario('file.destroy() deletes files and directories recursively; missing is 404', async ({ sandbox, agent }) => {
  writeFileSync(join(agent.root, 'del.txt'), 'x');
  assert.equal(await sandbox.file.destroy('del.txt'), undefined);
  assert.equal(existsSync(join(agent.root, 'del.txt')), false);
  assert.equal(await sandbox.file.exists('del.txt'), false);
  mkdirSync(join(agent.root, 'del-tree', 'a', 'b'), { recursive: true });
  writeFileSync(join(agent.root, 'del-tree', 'a', 'b', 'f.txt'), 'x');
  await sandbox.file.destroy(join(agent.root, 'del-tree'));
  assert.equal(existsSync(join(agent.root, 'del-tree')), false);
  await assert.rejects(sandbox.file.destroy('del.txt'), /API request failed \(404\)/);
});

scenario('file.batchWrite(): writes, deletes, last-op-wins, failing entry still resolves', async ({ sandbox, agent }) => {
  writeFileSync(join(agent.root, 'batch-old.txt'), 'old');
  const results = await sandbox.file.batchWrite([
    { path: 'batch/2.txt', operation: 'write', content: 'two' },
    { path: 'batch/1.txt', operation: 'write', content: 'first version' },
    { path: 'batch-old.txt', operation: 'delete' },
    { path: 'batch/never-there.txt', operation: 'delete' },
    { path: 'batch/1.txt', operation: 'write', content: 'one' },
  ]);
  assert.ok(Array.isArray(results));
  assert.deepEqual(
    results.map((r) => [r.path, r.success]),
    [
      ['batch-old.txt', true],
      ['batch/1.txt', true],
      ['batch/2.txt', true],
      ['batch/never-there.txt', false],
    ],
  );
  const failed = results.find((r) => !r.success);
  assert.equal(typeof failed.error, 'string');
  assert.ok(failed.error.length > 0);
  const one = results.find((r) => r.path === 'batch/1.txt');
  assertFileInfo(one.file, { name: '1.txt', path: join(agent.root, 'batch', '1.txt'), size: 3, isDir: false });
  assert.equal(readFileSync(join(agent.root, 'batch', '1.txt'), 'utf8'), 'one');
  assert.equal(readFileSync(join(agent.root, 'batch', '2.txt'), 'utf8'), 'two');
  assert.equal(existsSync(join(agent.root, 'batch-old.txt')), false);

  const allOk = await sandbox.file.batchWrite([{ path: join(agent.root, 'batch', '3.txt'), operation: 'write', content: '' }]);
  assert.deepEqual(allOk.map((r) => r.success), [true]);
  assert.equal(readFileSync(join(agent.root, 'batch', '3.txt'), 'utf8'), '');
});

scenario('absolute paths with spaces, non-ASCII and URL-special characters', async ({ sandbox, agent }) => {
  const dir = join(agent.root, 'dir with space', 'ünïcødé ✓');
  const file = join(dir, 'naïve #1 ?&%20 100%.txt');
  const content = 'héllo wörld ✓ 🎉\n';
  await sandbox.filesystem.writeFile(file, content);
  assert.equal(readFileSync(file, 'utf8'), content);
  assert.equal(await sandbox.filesystem.readFile(file), content);
  assert.equal(await sandbox.file.retrieve(file), content);
  assert.equal(await sandbox.file.exists(file), true);
  const entries = await sandbox.filesystem.readdir(dir);
  assert.deepEqual(entries.map((e) => e.name), ['naïve #1 ?&%20 100%.txt']);
  assert.equal(entries[0].size, Buffer.byteLength(content));
  const listed = await sandbox.file.list(join(agent.root, 'dir with space'));
  assert.deepEqual(listed.map((f) => [f.name, f.is_dir]), [['ünïcødé ✓', true]]);
  await sandbox.filesystem.remove(file);
  assert.equal(existsSync(file), false);
  assert.equal(await sandbox.file.exists(file), false);
  // relative non-ASCII path through the file API
  await sandbox.file.create('ß/日本語.txt', 'nihongo');
  assert.equal(readFileSync(join(agent.root, 'ß', '日本語.txt'), 'utf8'), 'nihongo');
  assert.equal(await sandbox.file.retrieve('ß/日本語.txt'), 'nihongo');
});

scenario('filesystem.writeFile / readFile / readdir / remove round trip', async ({ sandbox, agent }) => {
  const dir = join(agent.root, 'fsapi');
  await sandbox.filesystem.writeFile(join(dir, 'one.txt'), '1');
  await sandbox.filesystem.writeFile(join(dir, 'two.txt'), 'two\n'.repeat(1000));
  assert.equal(await sandbox.filesystem.readFile(join(dir, 'two.txt')), 'two\n'.repeat(1000));
  const before = await sandbox.filesystem.readdir(dir);
  assert.deepEqual(before.map((e) => [e.name, e.type, e.size]), [
    ['one.txt', 'file', 1],
    ['two.txt', 'file', 4000],
  ]);
  await sandbox.filesystem.remove(join(dir, 'one.txt'));
  const after = await sandbox.filesystem.readdir(dir);
  assert.deepEqual(after.map((e) => e.name), ['two.txt']);
  await sandbox.filesystem.remove(dir);
  assert.equal(existsSync(dir), false);
  await assert.rejects(sandbox.filesystem.readFile(join(dir, 'two.txt')), /API request failed \(404\)/);
});

scenario('a large file round-trips byte for byte', async ({ sandbox, agent }) => {
  const content = Array.from({ length: 200_000 }, (_, i) => `row ${i} ✓`).join('\n');
  await sandbox.filesystem.writeFile('big.txt', content);
  assert.equal(readFileSync(join(agent.root, 'big.txt'), 'utf8'), content);
  const back = await sandbox.filesystem.readFile('big.txt');
  assert.equal(back.length, content.length);
  assert.equal(back, content);
});

scenario('file.exists() follows symlinks: a dangling symlink does not exist (like filesystem.exists)', async ({ sandbox, agent }) => {
  symlinkSync(join(agent.root, 'nowhere'), join(agent.root, 'dangling'));
  symlinkSync(join(agent.root, 'r2.txt'), join(agent.root, 'good-link'));
  writeFileSync(join(agent.root, 'r2.txt'), 'target');
  assert.equal(await sandbox.file.exists('good-link'), true);
  assert.equal(await sandbox.filesystem.exists(join(agent.root, 'dangling')), false, '`test -e` follows the link');
  assert.equal(await sandbox.file.exists('dangling'), false, 'HEAD /files must follow symlinks (daemon-http.md §7.4)');
  // deleting removes the link itself, never the target
  await sandbox.file.destroy('good-link');
  assert.equal(readFileSync(join(agent.root, 'r2.txt'), 'utf8'), 'target');
});
