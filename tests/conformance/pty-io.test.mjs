// PTY output and input: several clients/terminals, UTF-8 and large output, base64 encoding, Ctrl-C.
import assert from 'node:assert/strict';
import { collectOutput, plain, SLOW_MS, useAgent } from './harness.mjs';
import { PROMPT, waitText } from './pty-helpers.mjs';

const { scenario } = useAgent();

scenario('terminal.retrieve(id) from a second client subscribes and controls the same PTY', async ({ sandbox, agent }) => {
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  await waitText(out, (s) => PROMPT.test(s), 'the shell prompt');
  const other = agent.client();
  try {
    const t2 = await other.terminal.retrieve(t.id);
    assert.equal(t2.id, t.id);
    assert.equal(t2.pty, true);
    assert.equal(t2.channel, t.channel);
    const out2 = collectOutput(t2);
    // subscribe is sent asynchronously after retrieve; prove delivery with input from client 2
    t2.write('echo from-second-$((40+2))\n');
    await waitText(out2, (s) => s.includes('\nfrom-second-42\n'), 'output on the second client');
    await waitText(out, (s) => s.includes('\nfrom-second-42\n'), 'the same output on the first client');
  } finally {
    await other.disconnect();
  }
  // the first client keeps working after the second disconnects
  t.write('echo still-$((1+1))\n');
  await waitText(out, (s) => s.includes('\nstill-2\n'), 'output after the second client left');
  await t.destroy();
});

scenario('two PTYs on one socket keep their output apart', async ({ sandbox }) => {
  const a = await sandbox.terminal.create({ pty: true });
  const b = await sandbox.terminal.create({ pty: true });
  const oa = collectOutput(a);
  const ob = collectOutput(b);
  a.write('echo AAA-$((1+1))\n');
  b.write('echo BBB-$((2+2))\n');
  await waitText(oa, (s) => s.includes('\nAAA-2\n'), 'A output');
  await waitText(ob, (s) => s.includes('\nBBB-4\n'), 'B output');
  assert.ok(!plain(oa.text).includes('BBB'), 'A saw B output');
  assert.ok(!plain(ob.text).includes('AAA'), 'B saw A output');
  await a.destroy();
  await b.destroy();
});

scenario('multi-byte UTF-8 output is never split into U+FFFD; large output arrives in order', async ({ sandbox }) => {
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  await waitText(out, (s) => PROMPT.test(s), 'the shell prompt');
  t.write("stty -echo; for i in $(seq 1 3000); do printf '✓é€😀'; done; echo; seq 1 20000; echo END-$((6*7))\n");
  await waitText(out, (s) => s.includes('\nEND-42\n'), 'END marker', 2 * SLOW_MS);
  const text = plain(out.text);
  assert.ok(!text.includes('\uFFFD'), 'replacement character in PTY output');
  assert.ok(text.includes('✓é€😀'.repeat(3000)), 'UTF-8 run not intact');
  const nums = text.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
  const start = nums.indexOf(1);
  assert.deepEqual(nums.slice(start), Array.from({ length: 20000 }, (_, i) => i + 1));
  await t.destroy();
});

scenario("terminal.create({pty:true, encoding:'base64'}) output is decoded by the client", async ({ sandbox }) => {
  const t = await sandbox.terminal.create({ pty: true, encoding: 'base64' });
  assert.equal(t.pty, true);
  const out = collectOutput(t);
  t.write('echo "b64-$((3*3))-héllo ✓"\n');
  await waitText(out, (s) => s.includes('\nb64-9-héllo ✓\n'), 'decoded base64 output');
  // chunks are decoded one by one by the client: they must be cut on UTF-8 boundaries
  t.write("stty -echo; for i in $(seq 1 3000); do printf '✓é€😀'; done; echo; echo END-$((6*7))\n");
  await waitText(out, (s) => s.includes('\nEND-42\n'), 'END marker', 2 * SLOW_MS);
  assert.ok(!out.text.includes('\uFFFD'), 'replacement character in base64-decoded output');
  assert.ok(plain(out.text).includes('✓é€😀'.repeat(3000)));
  await t.destroy();
});

scenario('Ctrl-C interrupts the foreground job of the PTY', async ({ sandbox }) => {
  const t = await sandbox.terminal.create({ pty: true });
  const out = collectOutput(t);
  await waitText(out, (s) => PROMPT.test(s), 'the shell prompt');
  t.write('sleep 300\n');
  await waitText(out, (s) => s.includes('sleep 300\n'), 'sleep echoed');
  t.write('\x03');
  t.write('echo after-$((5+5))\n');
  await waitText(out, (s) => s.includes('\nafter-10\n'), 'shell responsive after ^C');
  await t.destroy();
});
