// The peer of bench/proxy: a minimal streaming reverse proxy in Node (what a dev setup with http-proxy does):
// 127.0.0.1:$PORT -> 127.0.0.1:$UPSTREAM_PORT, keep-alive agent to the upstream, bodies piped both ways, no auth.
// WebSocket upgrades are tunnelled: the request head is replayed on a new upstream socket and the bytes piped both ways.
'use strict';
const http = require('http');
const net = require('net');
const port = Number(process.env.PORT);
const upstream = Number(process.env.UPSTREAM_PORT);
const agent = new http.Agent({ keepAlive: true, maxSockets: 2048 });
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
server.on('upgrade', (req, socket, head) => {
  const up = net.connect(upstream, '127.0.0.1', () => {
    up.setNoDelay(true);
    socket.setNoDelay(true);
    let lines = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    up.write(lines + '\r\n');
    if (head && head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  up.on('error', () => socket.destroy());
  socket.on('error', () => up.destroy());
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.listen(port, '127.0.0.1', () => console.log(`peer proxy listening on 127.0.0.1:${port} -> ${upstream}`));
