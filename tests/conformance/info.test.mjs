// health(), getServerInfo(), ready(), auth.status(), auth.info(), and the auth boundary.
import assert from 'node:assert/strict';
import WS from 'ws';
import { Sandbox, useAgent, withTimeout } from './harness.mjs';

const { ctx, scenario } = useAgent();

scenario('agent prints exactly one stdout line "sandboxd ready <url>"', async ({ agent, sandbox }) => {
  // Make the agent do some work first so any stray stdout writes would have happened.
  await sandbox.health();
  await sandbox.run.command('echo noise');
  assert.equal(agent.stdoutLines.length, 1, `stdout lines: ${JSON.stringify(agent.stdoutLines)}`);
  assert.match(agent.stdoutLines[0], /^sandboxd ready http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(new URL(agent.url).port, '0');
});

scenario('health() returns top-level {status, timestamp}', async ({ sandbox }) => {
  const before = Date.now();
  const h = await sandbox.health();
  assert.equal(h.status, 'ok');
  assert.equal(typeof h.timestamp, 'string');
  const ts = new Date(h.timestamp).getTime();
  assert.ok(Number.isFinite(ts), `timestamp not parseable: ${h.timestamp}`);
  assert.ok(Math.abs(ts - before) < 60_000, `timestamp ${h.timestamp} far from now`);
  assert.equal(h.data, undefined, 'health must not be wrapped in an envelope');
});

scenario('getServerInfo() returns the info envelope', async ({ sandbox, agent }) => {
  const info = await sandbox.getServerInfo();
  assert.equal(info.status, 'success');
  assert.equal(typeof info.message, 'string');
  assert.equal(info.data.auth_enabled, true);
  assert.equal(typeof info.data.main_subdomain, 'string');
  assert.ok(info.data.main_subdomain.length > 0);
  assert.equal(info.data.sandbox_count, 1);
  assert.equal(typeof info.data.version, 'string');
  assert.equal(typeof info.data.sandbox_url, 'string');
  assert.equal(new URL(info.data.sandbox_url).port, new URL(agent.url).port);
});

scenario('ready() with no servers/overlays is ready', async ({ sandbox }) => {
  const r = await sandbox.ready();
  assert.equal(r.ready, true);
  assert.deepEqual(r.servers, []);
  assert.deepEqual(r.overlays, []);
  assert.equal(r.healthy, undefined, 'healthy only present when a server has a health check');
});

scenario('auth.status() with the access token', async ({ sandbox }) => {
  const s = await sandbox.auth.status();
  assert.deepEqual(s, { authenticated: true, tokenType: 'access_token', expiresAt: undefined });
});

scenario('auth.status() without a token is public and unauthenticated', async ({ agent }) => {
  const anon = new Sandbox({ sandboxUrl: agent.url, sandboxId: 'x', provider: 'local' });
  try {
    const s = await anon.auth.status();
    assert.equal(s.authenticated, false);
    assert.equal(s.tokenType, undefined);
    // the other public routes
    assert.equal((await anon.health()).status, 'ok');
    assert.equal((await anon.ready()).ready, true);
    assert.equal((await anon.getServerInfo()).data.auth_enabled, true);
    assert.equal(typeof (await anon.auth.info()).message, 'string');
  } finally {
    await anon.disconnect();
  }
});

scenario('protected routes reject a missing or wrong token with 401', async ({ agent }) => {
  for (const token of [undefined, 'wrong-token']) {
    const s = new Sandbox({ sandboxUrl: agent.url, sandboxId: 'x', provider: 'local', token });
    try {
      await assert.rejects(s.run.command('echo x'), /API request failed \(401\)/);
      await assert.rejects(s.file.list('/'), /API request failed \(401\)/);
      assert.equal(await s.file.exists('/'), false, 'HEAD /files without auth must not be ok');
      const st = await s.auth.status();
      assert.equal(st.authenticated, false, `auth.status with token ${token}`);
    } finally {
      await s.disconnect();
    }
  }
});

scenario('auth.info() lists the seven endpoints', async ({ sandbox }) => {
  const i = await sandbox.auth.info();
  assert.equal(typeof i.message, 'string');
  assert.equal(typeof i.instructions, 'string');
  assert.deepEqual(i.endpoints, {
    createSessionToken: 'POST /auth/session_tokens',
    listSessionTokens: 'GET /auth/session_tokens',
    getSessionToken: 'GET /auth/session_tokens/:id',
    revokeSessionToken: 'DELETE /auth/session_tokens/:id',
    createMagicLink: 'POST /auth/magic-links',
    authStatus: 'GET /auth/status',
    authInfo: 'GET /auth/info',
  });
});

scenario('getInfo()/getSandboxUrl() are local and reflect the config', async ({ sandbox, agent }) => {
  assert.equal(sandbox.getSandboxUrl(), agent.url);
  const info = await sandbox.getInfo();
  assert.equal(info.id, 'x');
  assert.equal(info.provider, 'local');
  assert.equal(ctx.agent, agent);
});

scenario('the WebSocket upgrade is refused (401) for a wrong token; the client call rejects', async ({ agent }) => {
  const bad = new Sandbox({ sandboxUrl: agent.url, sandboxId: 'x', provider: 'local', token: 'wrong-token' });
  try {
    await assert.rejects(withTimeout(bad.runCommand('echo never', { onStdout: () => {} }), 10_000, 'streamed call with a bad token'));
  } finally {
    await bad.disconnect();
  }
  const status = await withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WS(`${agent.url.replace(/^http/, 'ws')}/ws?token=wrong-token&protocol=binary`);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ code: res.statusCode, body }));
      });
      ws.on('open', () => {
        ws.terminate();
        reject(new Error('upgrade with a wrong token was accepted'));
      });
      ws.on('error', () => {});
    }),
    10_000,
    'raw upgrade attempt',
  );
  assert.equal(status.code, 401);
  assert.equal(typeof JSON.parse(status.body).error, 'string');
  // and the right token in the query is accepted
  await withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WS(`${agent.url.replace(/^http/, 'ws')}/ws?token=${agent.token}&protocol=json`);
      ws.on('open', () => {
        ws.close();
        resolve();
      });
      ws.on('error', reject);
    }),
    10_000,
    'raw upgrade with the access token',
  );
});
