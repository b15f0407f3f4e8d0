// The upstream of bench/proxy: a plain Node http server on 127.0.0.1:$PORT.
//   GET /           -> 200 "ok\n" (3 bytes, Content-Length)
//   GET /big?mb=N   -> 200, N MiB of application/octet-stream (Content-Length), streamed from one 1 MiB buffer with
//                      backpressure (write until the socket buffer is full, continue on 'drain')
'use strict';
const http = require('http');
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
// Keep idle keep-alive connections open for the whole run (default 5 s would make a timed call reconnect).
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.listen(port, '127.0.0.1', () => console.log(`upstream listening on 127.0.0.1:${port}`));
