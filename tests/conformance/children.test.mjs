// Child sandboxes: child.create / list / retrieve / destroy, and a second Sandbox client on the
// child's url (/s/<subdomain> prefix) including its WebSocket. Every scenario probes GET /sandboxes
// first and fails if it answers 404 (a missing route is a regression, not a skip).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { collectOutput, plain, Sandbox, SLOW_MS, useAgent, waitFor } from './harness.mjs';

const { scenario: base } = useAgent();
const scenario = (name, fn) => base(name, fn, { requires: ['GET', '/sandboxes'] });

const ID = /^[A-Za-z0-9_-]+$/;
const temps = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function childClient(agent, child) {
  return new Sandbox({ sandboxUrl: child.url, sandboxId: child.subdomain, provider: 'local', token: agent.token });
}

scenario('child.create() / list() / retrieve(): main first, child addressable by /s/<subdomain>', async ({ sandbox, agent }) => {
  const child = await sandbox.child.create();
  assert.match(child.subdomain, ID);
  assert.equal(child.is_main, false);
  assert.equal(child.url, `${agent.url}/s/${child.subdomain}`);
  assert.ok(Number.isFinite(new Date(child.created_at).getTime()));
  assert.ok(existsSync(child.directory), `child directory ${child.directory} exists`);
  assert.notEqual(child.directory, agent.root);
  const list = await sandbox.child.list();
  assert.equal(list[0].is_main, true, 'main sandbox first');
  assert.equal(list[0].directory, agent.root);
  assert.deepEqual(list.slice(1).map((x) => x.subdomain), [child.subdomain]);
  const got = await sandbox.child.retrieve(child.subdomain);
  assert.equal(got.subdomain, child.subdomain);
  assert.equal(got.directory, child.directory);
  assert.equal((await sandbox.getServerInfo()).data.sandbox_count, 2);
  await assert.rejects(sandbox.child.retrieve('sandbox-00000000'), /API request failed \(404\)/);
  await sandbox.child.destroy(child.subdomain, { deleteFiles: true });
});

scenario('a Sandbox on the child url runs commands, files and a PTY in the child directory', async ({ sandbox, agent }) => {
  const child = await sandbox.child.create();
  const c = childClient(agent, child);
  try {
    assert.equal((await c.health()).status, 'ok');
    assert.equal((await c.run.command('pwd')).stdout, `${child.directory}\n`);
    await c.file.create('only-in-child.txt', 'child!');
    assert.equal(readFileSync(join(child.directory, 'only-in-child.txt'), 'utf8'), 'child!');
    assert.equal(existsSync(join(agent.root, 'only-in-child.txt')), false);
    assert.equal(await sandbox.file.exists('only-in-child.txt'), false, 'main does not see child files');
    await c.env.update('.env', { WHERE: 'child' });
    assert.equal(readFileSync(join(child.directory, '.env'), 'utf8'), 'WHERE=child\n');
    const streamed = await c.runCommand('pwd', { onStdout: () => {} });
    assert.equal(streamed.stdout, `${child.directory}\n`);
    const t = await c.terminal.create({ pty: true });
    assert.match(c._ws.config.url, new RegExp(`/s/${child.subdomain}/ws\\?`));
    const out = collectOutput(t);
    t.write('echo "wh""ere=$(pwd)"\n');
    await waitFor(() => plain(out.text).includes(`\nwhere=${child.directory}\n`), { timeout: SLOW_MS, what: 'child PTY cwd' });
    const mainTerms = await sandbox.terminal.list();
    assert.equal(mainTerms.find((x) => x.id === t.id), undefined, 'child terminals are not listed in main');
    assert.ok((await c.terminal.list()).some((x) => x.id === t.id));
    await t.destroy();
  } finally {
    await c.disconnect();
  }
  await sandbox.child.destroy(child.subdomain, { deleteFiles: true });
});

scenario('child.create({directory, overlays, servers}) (announcement "putting it all together")', async ({ sandbox, agent }) => {
  const template = realpathSync(mkdtempSync(join(tmpdir(), 'sbx-child-template-')));
  temps.push(template);
  mkdirSync(join(template, 'react'));
  writeFileSync(join(template, 'react', 'server.js'), "require('http').createServer((q,s)=>s.end('react ok')).listen(+process.env.PORT,'127.0.0.1')\n");
  const directory = join(agent.root, 'workspace');
  const child = await sandbox.child.create({
    name: 'project-1',
    namespace: 'user-1',
    directory,
    overlays: [{ source: join(template, 'react'), target: './react', strategy: 'smart' }],
    servers: [{ slug: 'react', install: 'touch installed.flag', start: 'node server.js', path: './react', restart_policy: 'on-failure' }],
  });
  assert.equal(child.directory, directory);
  const c = childClient(agent, child);
  try {
    let server;
    await waitFor(
      async () => {
        server = await c.server.retrieve('react');
        return server.status === 'ready';
      },
      { timeout: SLOW_MS, interval: 100, what: 'child server ready' },
    );
    assert.equal(server.path, join(directory, 'react'));
    assert.equal(server.url, `http://localhost:${server.port}`);
    assert.ok(existsSync(join(directory, 'react', 'installed.flag')));
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(await res.text(), 'react ok');
    const overlays = await c.filesystem.overlay.list();
    assert.equal(overlays.length, 1);
    assert.equal(overlays[0].target, './react');
    assert.deepEqual(await sandbox.server.list(), [], 'child servers are not main servers');
    // same name + namespace: the existing child is returned
    const again = await sandbox.child.create({ name: 'project-1', namespace: 'user-1' });
    assert.equal(again.subdomain, child.subdomain);
  } finally {
    await c.disconnect();
  }
  await sandbox.child.destroy(child.subdomain);
  assert.ok(existsSync(directory), 'deleteFiles:false keeps the directory');
});

scenario('child.destroy(): files kept or deleted; the main sandbox cannot be destroyed', async ({ sandbox }) => {
  const keep = await sandbox.child.create();
  writeFileSync(join(keep.directory, 'f.txt'), 'x');
  assert.equal(await sandbox.child.destroy(keep.subdomain), undefined);
  assert.ok(existsSync(join(keep.directory, 'f.txt')));
  assert.equal((await sandbox.child.list()).find((x) => x.subdomain === keep.subdomain), undefined);
  await assert.rejects(sandbox.child.retrieve(keep.subdomain), /API request failed \(404\)/);
  const gone = await sandbox.child.create();
  await sandbox.child.destroy(gone.subdomain, { deleteFiles: true });
  assert.equal(existsSync(gone.directory), false);
  const main = (await sandbox.child.list()).find((x) => x.is_main);
  await assert.rejects(sandbox.child.destroy(main.subdomain), /API request failed \(400\)/);
  rmSync(keep.directory, { recursive: true, force: true });
});
