// Agent started with --ws-binary-out: terminal output travels as binary frames on binary sockets.
// The client can only decode those when `ws` delivers ArrayBuffers (daemon-websocket.md §3.2, §9),
// so these scenarios use an ArrayBuffer-typed `ws` subclass, as the spec recommends.
import assert from 'node:assert/strict';
import WS from 'ws';
import { collectOutput, plain, SLOW_MS, useAgent, waitFor, withTimeout } from './harness.mjs';

class ArrayBufferWS extends WS {
  constructor(...args) {
    super(...args);
    this.binaryType = 'arraybuffer';
  }
}

const { scenario } = useAgent({ extraArgs: ['--ws-binary-out'] });

scenario('--ws-binary-out: PTY create/output/resize/destroy and streamed commands work', async ({ agent }) => {
  const sandbox = agent.client({ WebSocket: ArrayBufferWS });
  try {
    const binaryFrames = { count: 0 };
    const started = Date.now();
    const t = await sandbox.terminal.create({ pty: true });
    assert.ok(Date.now() - started < 3_000, `PTY create took ${Date.now() - started} ms`);
    sandbox._ws.ws.on('message', (_data, isBinary) => {
      if (isBinary) binaryFrames.count++;
    });
    const out = collectOutput(t);
    t.resize(111, 22);
    t.write('echo "bin""ary-$(stty size)-ü✓"\n');
    await waitFor(() => /\nbinary-22 111-ü✓\n/.test(plain(out.text)), { timeout: SLOW_MS, what: 'binary-framed PTY output' });
    assert.ok(binaryFrames.count > 0, 'terminal output should arrive as binary frames with --ws-binary-out');
    const r = await withTimeout(sandbox.runCommand('echo via-text-frames', { onStdout: () => {} }), SLOW_MS, 'streamed command');
    assert.equal(r.stdout, 'via-text-frames\n');
    assert.equal(r.exitCode, 0);
    const destroyed = new Promise((res) => t.on('destroyed', res));
    await t.destroy();
    await withTimeout(destroyed, 5_000, "'destroyed' event");
  } finally {
    await sandbox.disconnect();
  }
});

scenario("--ws-binary-out never sends binary frames to protocol:'json' sockets", async ({ agent }) => {
  const sandbox = agent.client({ protocol: 'json' });
  try {
    const t = await sandbox.terminal.create({ pty: true });
    let binary = 0;
    sandbox._ws.ws.on('message', (_data, isBinary) => {
      if (isBinary) binary++;
    });
    const out = collectOutput(t);
    t.write('echo "te""xt-only"\n');
    await waitFor(() => /\ntext-only\n/.test(plain(out.text)), { timeout: SLOW_MS, what: 'PTY output on a json socket' });
    assert.equal(binary, 0);
    await t.destroy();
  } finally {
    await sandbox.disconnect();
  }
});
