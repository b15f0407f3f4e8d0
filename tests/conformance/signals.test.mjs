// Signals: signal.start / status / stop and the emit routes, delivered over the WebSocket.
// Every scenario probes GET /signals/status first and fails if it answers 404.
import assert from 'node:assert/strict';
import { useAgent, waitFor } from './harness.mjs';

const { scenario: base } = useAgent();

// The agent's port monitor also reports listeners opened by unrelated processes on the host
// (other test agents, this runner), so every wait below matches on the expected fields.
function recorder(svc, event = 'signal') {
  const events = [];
  svc.on(event, (e) => events.push(e));
  return {
    events,
    wait: (pred, what) =>
      waitFor(() => events.find(pred), { timeout: 10_000, what: `${what} (got ${JSON.stringify(events)})` }),
  };
}
const ours = (e) => e.signal !== 'port' || [3123, 4555, 5666].includes(e.port);
const scenario = (name, fn) => base(name, fn, { requires: ['GET', '/signals/status'] });

scenario('signal.start() returns an active service on channel "signals"; status()/stop()', async ({ sandbox }) => {
  const svc = await sandbox.signal.start();
  assert.equal(svc.getStatus(), 'active');
  assert.equal(svc.isActive(), true);
  assert.equal(svc.getChannel(), 'signals');
  const st = await sandbox.signal.status();
  assert.equal(st.status, 'active');
  assert.equal(st.channel, 'signals');
  assert.match(st.wsUrl ?? '', /^wss?:\/\/.+\/ws/);
  const again = await sandbox.signal.start(); // idempotent
  assert.equal(again.getStatus(), 'active');
  await svc.stop();
  assert.equal(svc.getStatus(), 'stopped');
  assert.equal((await sandbox.signal.status()).status, 'stopped');
});

scenario("emitPort() fires 'port' and 'signal' on the service", async ({ sandbox }) => {
  const svc = await sandbox.signal.start();
  const port = recorder(svc, 'port');
  const signal = recorder(svc, 'signal');
  // emitted right after start: must not be lost to the subscribe race
  await sandbox.signal.emitPort(3123, 'open', 'http://localhost:3123');
  const p = await port.wait((e) => e.port === 3123, "'port' event for 3123");
  assert.deepEqual(p, { signal: 'port', port: 3123, url: 'http://localhost:3123' });
  const s = await signal.wait((e) => e.port === 3123, "'signal' event for 3123");
  assert.deepEqual(s, p);
  await svc.stop();
});

scenario("emitError() fires 'error'; emitServerReady() fires 'port' with signal server-ready", async ({ sandbox }) => {
  const svc = await sandbox.signal.start();
  const all = recorder(svc, 'signal');
  const errors = recorder(svc, 'error');
  const ports = recorder(svc, 'port');
  await sandbox.signal.emitError('boom ✓');
  assert.deepEqual(await errors.wait(() => true, "'error' event"), { signal: 'error', message: 'boom ✓' });
  await sandbox.signal.emitServerReady(4555, 'http://localhost:4555');
  assert.deepEqual(await ports.wait((e) => e.port === 4555, "'port' event for server-ready"), {
    signal: 'server-ready',
    port: 4555,
    url: 'http://localhost:4555',
  });
  const r = await sandbox.emitPortSignalAlt(5666, 'close');
  assert.equal(r.data.port, 5666);
  assert.equal(r.data.type, 'close');
  const a = await ports.wait((e) => e.port === 5666, "'port' event for 5666");
  assert.equal(a.signal, 'port');
  assert.equal(a.url, r.data.url);
  await waitFor(() => all.events.filter(ours).length === 3, { timeout: 5_000, what: 'three signal events' });
  assert.deepEqual(all.events.filter(ours).map((e) => e.signal), ['error', 'server-ready', 'port']);
  await svc.stop();
});

scenario('invalid emits are rejected with 400', async ({ sandbox }) => {
  await assert.rejects(sandbox.signal.emitPort(3000, 'sideways', 'http://x'), /API request failed \(400\)/);
  await assert.rejects(sandbox.emitPortSignalAlt('abc', 'open'), /API request failed \(400\)/);
});

scenario('a managed server becoming ready publishes port and server-ready signals automatically', async ({ sandbox, agent, t }) => {
  const missing = await agent.missingRoute('GET', '/servers');
  if (missing) throw new Error(`route missing from the agent: ${missing}`);
  const svc = await sandbox.signal.start();
  const events = [];
  svc.on('signal', (e) => events.push(e));
  await sandbox.server.start({
    slug: 'sig-web',
    start: `node -e "require('http').createServer((q,s)=>s.end('x')).listen(+process.env.PORT,'127.0.0.1')"`,
  });
  let server;
  await waitFor(
    async () => {
      server = await sandbox.server.retrieve('sig-web');
      return server.status === 'ready' && events.some((e) => e.signal === 'server-ready');
    },
    { timeout: 30_000, interval: 100, what: `server ready + server-ready signal (events ${JSON.stringify(events)})` },
  );
  // (the agent's port monitor reports every new listener on the host, not only the server's —
  // other processes on a shared test machine produce extra 'port' signals, so match by port)
  const portOpen = events.find((e) => e.signal === 'port' && e.port === server.port);
  assert.deepEqual(portOpen, { signal: 'port', port: server.port, url: server.url }, JSON.stringify(events));
  assert.ok(
    events.indexOf(portOpen) < events.findIndex((e) => e.signal === 'server-ready'),
    `port signal should precede server-ready: ${JSON.stringify(events)}`,
  );
  assert.deepEqual(events.find((e) => e.signal === 'server-ready'), { signal: 'server-ready', port: server.port, url: server.url });
  const before = events.length;
  await sandbox.server.stop('sig-web');
  await waitFor(() => events.slice(before).some((e) => e.signal === 'port' && e.port === server.port), {
    timeout: 10_000,
    what: `port close signal after stop (events ${JSON.stringify(events)})`,
  });
  await sandbox.server.delete('sig-web');
  await svc.stop();
});
