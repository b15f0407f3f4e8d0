// The upstream of bench/proxy: a plain Node http server on 127.0.0.1:$PORT.
//   GET /           -> 200 "ok\n" (3 bytes, Content-Length)
//   GET /big?mb=N   -> 200, N MiB of application/octet-stream (Content-Length), streamed from one 1 MiB buffer with
//                      backpressure (write until the socket buffer is full, continue on 'drain')
//   GET /echo (Upgrade: websocket) -> a WebSocket echo: every text or binary message comes back as sent. Node 20 has no
//                      WebSocket server, so this is a minimal RFC 6455 server written here: the handshake (SHA-1 of the
//                      key and the RFC's GUID), client frames unmasked, single-frame messages echoed unmasked, ping
//                      answered with pong, close answered with close. Fragmented messages are not needed (the measurer
//                      sends small single-frame messages) and are refused with close code 1003.
'use strict';
const http = require('http');
const crypto = require('crypto');
const port = Number(process.env.PORT);
const small = Buffer.from('ok\n');
const chunk = Buffer.alloc(1 << 20, 0x61);
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/big')) {
    const mb = Number(new URL(req.url, 'http://x').searchParams.get('mb') || 256);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': mb * chunk.length });
    let left = mb;
    const pump = () => {
      while (left > 0) {
        left--;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': small.length });
  res.end(small);
});

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// One unmasked server frame (FIN set) with this opcode and payload.
function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff])
      : (() => { const b = Buffer.alloc(10); b[0] = 0x80 | opcode; b[1] = 127; b.writeBigUInt64BE(BigInt(n), 2); return b; })();
  return Buffer.concat([head, payload]);
}

server.on('upgrade', (req, socket, head) => {
  const key = req.headers['sec-websocket-key'];
  if (!req.url.startsWith('/echo') || String(req.headers.upgrade).toLowerCase() !== 'websocket' || !key) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.setNoDelay(true);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let pending = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
  const onData = (data) => {
    pending = pending.length ? Buffer.concat([pending, data]) : data;
    for (;;) {
      if (pending.length < 2) return;
      const fin = (pending[0] & 0x80) !== 0;
      const opcode = pending[0] & 0x0f;
      const masked = (pending[1] & 0x80) !== 0;
      let len = pending[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (pending.length < 4) return;
        len = pending.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (pending.length < 10) return;
        len = Number(pending.readBigUInt64BE(2));
        at = 10;
      }
      if (!masked) { socket.destroy(); return; } // a client frame must be masked (RFC 6455 5.1)
      if (pending.length < at + 4 + len) return;
      const mask = pending.subarray(at, at + 4);
      const payload = Buffer.from(pending.subarray(at + 4, at + 4 + len));
      for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
      pending = pending.subarray(at + 4 + len);
      if (opcode === 0x8) { socket.end(frame(0x8, payload.subarray(0, 2))); return; }
      if (opcode === 0x9) { socket.write(frame(0xA, payload)); continue; }
      if (opcode === 0xA) continue;
      if (!fin || opcode === 0x0) { socket.end(frame(0x8, Buffer.from([0x03, 0xeb]))); return; } // 1003: not supported here
      socket.write(frame(opcode, payload));
    }
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
});

// Keep idle keep-alive connections open for the whole run (default 5 s would make a timed call reconnect).
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.listen(port, '127.0.0.1', () => console.log(`upstream listening on 127.0.0.1:${port}`));
