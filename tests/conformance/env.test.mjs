// env.update / env.retrieve / env.remove / env.exists.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useAgent } from './harness.mjs';

const { scenario } = useAgent();

scenario("env.update(f, {A:'1', B:'two words'}) writes exactly A=1\\nB=\"two words\"\\n", async ({ sandbox, agent }) => {
  const keys = await sandbox.env.update('.env', { A: '1', B: 'two words' });
  assert.deepEqual(keys, ['A', 'B']);
  const expected = 'A=1\nB="two words"\n';
  assert.equal(await sandbox.readFile(join(agent.root, '.env')), expected);
  assert.equal(await sandbox.filesystem.readFile('.env'), expected);
  assert.equal(readFileSync(join(agent.root, '.env'), 'utf8'), expected);
});

scenario('env.retrieve() parses the file', async ({ sandbox }) => {
  await sandbox.env.update('retrieve.env', { A: '1', B: 'two words', C: '' });
  assert.deepEqual(await sandbox.env.retrieve('retrieve.env'), { A: '1', B: 'two words', C: '' });
});

scenario('env.update() merges: existing keys in place, new keys appended, quoting rules', async ({ sandbox, agent }) => {
  const file = join(agent.root, 'merge.env');
  await sandbox.env.update(file, { A: '1', B: 'x' });
  const keys = await sandbox.env.update(file, { C: 'has "quotes" and \\ and\nnewline', B: 'path/ok:1@v+2-3.x_y', D: '' });
  assert.deepEqual(keys, ['C', 'B', 'D']);
  assert.equal(readFileSync(file, 'utf8'), 'A=1\nB=path/ok:1@v+2-3.x_y\nC="has \\"quotes\\" and \\\\ and\\nnewline"\nD=""\n');
  assert.deepEqual(await sandbox.env.retrieve(file), {
    A: '1',
    B: 'path/ok:1@v+2-3.x_y',
    C: 'has "quotes" and \\ and\nnewline',
    D: '',
  });
});

scenario('env.remove() removes the listed keys that exist and reports them', async ({ sandbox, agent }) => {
  await sandbox.env.update('remove.env', { A: '1', B: '2', C: '3' });
  const removed = await sandbox.env.remove('remove.env', ['C', 'Z', 'A']);
  assert.deepEqual(removed, ['C', 'A']);
  assert.equal(readFileSync(join(agent.root, 'remove.env'), 'utf8'), 'B=2\n');
  assert.deepEqual(await sandbox.env.retrieve('remove.env'), { B: '2' });
  await assert.rejects(sandbox.env.remove('missing.env', ['A']), /API request failed \(404\)/);
});

scenario('env.exists() and env.retrieve() on a missing file', async ({ sandbox }) => {
  assert.equal(await sandbox.env.exists('absent.env'), false);
  await assert.rejects(sandbox.env.retrieve('absent.env'), /API request failed \(404\)/);
  await sandbox.env.update('absent.env', { K: 'v' });
  assert.equal(await sandbox.env.exists('absent.env'), true);
});

scenario('env.update() creates parent directories; nested relative path', async ({ sandbox, agent }) => {
  await sandbox.env.update('config/deep/app.env', { PORT: '3000' });
  assert.equal(readFileSync(join(agent.root, 'config', 'deep', 'app.env'), 'utf8'), 'PORT=3000\n');
  assert.equal(await sandbox.env.exists('config/deep/app.env'), true);
});

scenario('hand-written .env: comments, export, quotes are parsed and preserved on update', async ({ sandbox, agent }) => {
  const file = join(agent.root, 'hand.env');
  writeFileSync(file, '# a comment\n\nexport X=1\nY="a\\nb"\nZ=\'lit $x \\n\'\nW =  spaced  \n');
  assert.deepEqual(await sandbox.env.retrieve(file), { X: '1', Y: 'a\nb', Z: 'lit $x \\n', W: 'spaced' });
  await sandbox.env.update(file, { NEW: 'n' });
  const text = readFileSync(file, 'utf8');
  assert.ok(text.startsWith('# a comment\n\n'), `comment/blank line not preserved:\n${text}`);
  assert.ok(text.endsWith('NEW=n\n'), `new key not appended:\n${text}`);
  assert.deepEqual(await sandbox.env.retrieve(file), { X: '1', Y: 'a\nb', Z: 'lit $x \\n', W: 'spaced', NEW: 'n' });
  assert.ok(existsSync(file));
});
