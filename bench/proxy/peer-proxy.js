// The peer of bench/proxy: a minimal streaming reverse proxy in Node (what a dev setup with http-proxy does):
// 127.0.0.1:$PORT -> 127.0.0.1:$UPSTREAM_PORT, keep-alive agent to the upstream, bodies piped both ways, no auth.
'use strict';
const http = require('http');
const port = Number(process.env.PORT);
const upstream = Number(process.env.UPSTREAM_PORT);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const server = http.createServer((req, res) => {
  const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress };
  const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers, agent }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  up.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end(String(e));
  });
  req.pipe(up);
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.listen(port, '127.0.0.1', () => console.log(`peer proxy listening on 127.0.0.1:${port} -> ${upstream}`));
