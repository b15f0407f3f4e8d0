// sandboxd workspace page: a PTY terminal, a live file tree of the sandbox root and the managed servers, over the
// agent's HTTP API and its JSON WebSocket (/ws?protocol=json). No build step: plain ES module + vendored xterm.js.
//
// Authentication is the HttpOnly `session_token` cookie that the magic link sets: same-origin fetches and the
// WebSocket upgrade carry it (the browser's Origin header satisfies the agent's CSRF check). The page never sees the
// token: the landing URL's session_token/sandbox_url parameters are only stripped from the address bar.

/* global Terminal, FitAddon */

// The agent's root, relative to this page (/play/ → /, also /s/<child>/play/ → /s/<child>/).
const base = new URL('..', location.href);
const TERMINAL_KEY = 'sandboxd.terminal';
const WATCHER_KEY = 'sandboxd.watcher';
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- helpers

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of [].concat(children)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const dirname = (path) => path.slice(0, path.lastIndexOf('/')) || '/';
const basename = (path) => path.slice(path.lastIndexOf('/') + 1);
const isUnder = (path, dir) => path === dir || path.startsWith(dir.endsWith('/') ? dir : dir + '/');

function formatSize(bytes) {
  if (!(bytes >= 0)) return '';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return (i === 0 ? String(bytes) : bytes.toFixed(bytes < 10 ? 1 : 0)) + units[i];
}

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// ---------------------------------------------------------------- status and sign-in

const STATUS_TEXT = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  'signed-out': 'not signed in',
};

const statusHistory = []; // every state shown, in order (for tests)

function setStatus(state) {
  statusHistory.push(state);
  $('status').dataset.state = state;
  $('status').textContent = STATUS_TEXT[state];
}

let signedOutShown = false;
function showSignedOut() {
  if (signedOutShown) return;
  signedOutShown = true;
  live.stop();
  $('workspace').hidden = true;
  $('signed-out').hidden = false;
  setStatus('signed-out');
  document.title = 'sandboxd — not signed in';
}

/** Removes the magic-link landing parameters from the address bar (the cookie already holds the session). */
function stripLandingParams() {
  const url = new URL(location.href);
  if (!url.searchParams.has('session_token') && !url.searchParams.has('sandbox_url')) return;
  url.searchParams.delete('session_token');
  url.searchParams.delete('sandbox_url');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
}

// ---------------------------------------------------------------- HTTP

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the agent's HTTP API and returns the envelope's `data` (undefined for 204). */
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(new URL(path, base), init);
  if (response.status === 401) {
    showSignedOut();
    throw new ApiError(401, 'not signed in');
  }
  if (response.status === 204) return undefined;
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, json.error || response.statusText);
  return json.data;
}

async function isSignedIn() {
  const status = await api('GET', 'auth/status');
  return Boolean(status && status.authenticated);
}

// ---------------------------------------------------------------- WebSocket (one socket, channels, reconnect)

class Live {
  constructor() {
    this.ws = null;
    this.channels = new Map(); // channel → { onMessage, subscribeData: () => object }
    this.outbox = []; // terminal input typed while the socket was down
    this.delay = 500;
    this.opens = 0;
    this.stopped = false;
    this.onOpen = () => {}; // called with `reconnected` after every successful open
  }

  connect() {
    if (this.stopped) return;
    const url = new URL('ws?protocol=json', base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    this.ws = ws;
    let opened = false;

    ws.onopen = () => {
      opened = true;
      this.delay = 500;
      setStatus('connected');
      for (const channel of this.channels.keys()) this.sendSubscribe(channel);
      for (const message of this.outbox.splice(0)) this.send(message);
      this.onOpen(this.opens++ > 0);
    };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      this.channels.get(message.channel)?.onMessage(message);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      setStatus('reconnecting');
      const wait = this.delay;
      this.delay = Math.min(this.delay * 2, 5000);
      setTimeout(async () => {
        // A refused upgrade looks like any other close: if it never opened, check the session is still valid.
        if (!opened && !(await isSignedIn().catch(() => true))) return showSignedOut();
        this.connect();
      }, wait);
    };
  }

  /** Subscribes (now if connected, and again after every reconnect with fresh data, e.g. an offset). */
  subscribe(channel, onMessage, subscribeData = () => ({})) {
    this.channels.set(channel, { onMessage, subscribeData });
    this.sendSubscribe(channel);
  }

  unsubscribe(channel) {
    if (this.channels.delete(channel)) this.send({ type: 'unsubscribe', channel });
  }

  sendSubscribe(channel) {
    const entry = this.channels.get(channel);
    if (entry) this.send({ type: 'subscribe', channel, data: entry.subscribeData() });
  }

  send(message, { queue = false } = {}) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    if (queue && this.outbox.length < 256) this.outbox.push(message);
    return false;
  }

  /** Closes the socket as a network drop would (test hook); the usual reconnect follows. */
  drop() {
    this.ws?.close();
  }

  stop() {
    this.stopped = true;
    this.ws?.close();
  }
}

const live = new Live();

// ---------------------------------------------------------------- terminal

const term = new Terminal({
  cursorBlink: true,
  fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
  fontSize: 13,
  scrollback: 5000,
  theme: { background: '#0f1115' },
});
const fit = new FitAddon.FitAddon();
term.loadAddon(fit);

let shell = null; // { id, channel, offset, alive }
let restarting = false;

function sendResize() {
  if (shell?.alive) {
    live.send({ type: 'terminal:resize', data: { terminal_id: shell.id, cols: term.cols, rows: term.rows } });
  }
}

/** Reattaches to this tab's terminal if it still runs (replaying its scrollback), else starts a new PTY. */
async function openTerminal() {
  let info = null;
  const saved = sessionStorage.getItem(TERMINAL_KEY);
  if (saved) {
    info = await api('GET', `terminals/${encodeURIComponent(saved)}`).catch(() => null);
    if (info?.status !== 'running') info = null;
  }
  info ??= await api('POST', 'terminals', { pty: true, cols: term.cols, rows: term.rows });
  sessionStorage.setItem(TERMINAL_KEY, info.id);

  const current = { id: info.id, channel: info.channel || `terminal:${info.id}`, offset: 0, alive: true };
  shell = current;
  // offset 0: the whole scrollback (a reattached terminal repaints); after a drop: resume where output stopped.
  live.subscribe(current.channel, (message) => onTerminalMessage(current, message), () => ({ offset: current.offset }));
  sendResize();
}

function onTerminalMessage(current, { type, data = {} }) {
  switch (type) {
    case 'terminal:output':
      term.write(data.encoding === 'base64' ? base64Bytes(data.output) : data.output);
      if (typeof data.next_offset === 'number') current.offset = data.next_offset;
      break;
    case 'output:lost': // the oldest scrollback was evicted: continue from what is left
      if (typeof data.first_available === 'number') current.offset = Math.max(current.offset, data.first_available);
      break;
    case 'terminal:error':
      term.write(`\r\n\x1b[31m[terminal error: ${data.error}]\x1b[0m\r\n`);
      break;
    case 'terminal:destroyed':
      current.alive = false;
      live.unsubscribe(current.channel);
      sessionStorage.removeItem(TERMINAL_KEY);
      term.write('\r\n\x1b[2m[the shell exited — press Enter for a new one]\x1b[0m\r\n');
      break;
  }
}

function startTerminal() {
  term.open($('terminal'));
  fit.fit();
  new ResizeObserver(() => fit.fit()).observe($('terminal'));
  term.onResize(sendResize);
  term.onData((input) => {
    if (shell?.alive) {
      live.send({ type: 'terminal:input', data: { terminal_id: shell.id, input } }, { queue: true });
    } else if (input.includes('\r') && !restarting) {
      restarting = true;
      openTerminal().catch(reportError).finally(() => { restarting = false; });
    }
  });
  term.focus();
}

// ---------------------------------------------------------------- file tree

let rootPath = null;
const listings = new Map(); // directory path → Map(name → FileInfo), for the root and every expanded directory
const expanded = new Set();
const relistTimers = new Map();
let renderQueued = false;

async function loadDir(path) {
  const data = await api('GET', `files?path=${encodeURIComponent(path)}`);
  const previous = listings.get(data.path);
  listings.set(data.path, new Map(data.files.map((f) => [f.name, { ...f, fresh: previous && !previous.has(f.name) }])));
  return data.path;
}

/** Forgets a directory's listing and everything expanded below it. */
function forget(dir) {
  for (const path of [...listings.keys()]) if (isUnder(path, dir) && path !== rootPath) listings.delete(path);
  for (const path of [...expanded]) if (isUnder(path, dir)) expanded.delete(path);
}

async function reloadListings() {
  for (const dir of [...listings.keys()]) {
    await loadDir(dir).catch((error) => { if (error.status === 404 || error.status === 400) forget(dir); });
  }
  queueRender();
}

function onFileEvent({ type, data = {} }) {
  if (type !== 'file:changed' || typeof data.path !== 'string') return;
  const { event, path } = data;
  const parent = dirname(path);
  const listing = listings.get(parent);
  if (event === 'unlink' || event === 'unlinkDir') {
    listing?.delete(basename(path));
    if (event === 'unlinkDir') forget(path);
  } else if (listing) {
    const known = listing.get(basename(path));
    listing.set(basename(path), {
      name: basename(path), path, is_dir: event === 'addDir' || Boolean(known?.is_dir),
      size: known?.size, fresh: !known,
    });
    scheduleRelist(parent); // picks up sizes (events carry none)
  }
  queueRender();
}

function scheduleRelist(dir) {
  if (relistTimers.has(dir)) return;
  relistTimers.set(dir, setTimeout(async () => {
    relistTimers.delete(dir);
    if (listings.has(dir)) {
      await loadDir(dir).catch(() => {});
      queueRender();
    }
  }, 400));
}

async function toggleDir(path) {
  if (expanded.has(path)) {
    forget(path);
  } else {
    expanded.add(path);
    await loadDir(path).catch((error) => { expanded.delete(path); reportError(error); });
  }
  queueRender();
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderTree();
  });
}

function renderTree() {
  if (rootPath === null) return;
  const items = renderDir(rootPath, 0);
  $('files').replaceChildren(...(items.length ? items : [el('li', { class: 'empty' }, 'empty directory')]));
}

function renderDir(dir, depth) {
  const entries = [...(listings.get(dir)?.values() ?? [])];
  entries.sort((a, b) => (b.is_dir - a.is_dir) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries.map((entry) => renderEntry(entry, depth));
}

function renderEntry(entry, depth) {
  const open = entry.is_dir && expanded.has(entry.path);
  const row = el('div', { class: 'row', style: `--depth:${depth}`, title: entry.path }, [
    el('span', { class: 'icon' }, entry.is_dir ? (open ? '▾' : '▸') : '·'),
    el('span', { class: 'name' }, entry.name),
    entry.is_dir ? null : el('span', { class: 'size' }, formatSize(entry.size)),
  ]);
  const item = el('li', { class: entry.is_dir ? 'dir' : 'file', 'data-path': entry.path }, row);
  if (entry.fresh) {
    item.classList.add('fresh');
    entry.fresh = false;
  }
  if (entry.is_dir) {
    row.addEventListener('click', () => toggleDir(entry.path));
    if (open && listings.has(entry.path)) item.append(el('ul', {}, renderDir(entry.path, depth + 1)));
  }
  return item;
}

/** Watches the sandbox root (reusing this tab's watcher after a reload), then lists it. */
async function openFiles() {
  let watcher = null;
  const saved = sessionStorage.getItem(WATCHER_KEY);
  if (saved) {
    watcher = await api('GET', `watchers/${encodeURIComponent(saved)}`).catch(() => null);
    if (watcher?.status !== 'active') watcher = null;
  }
  watcher ??= await api('POST', 'watchers', { path: '.' });
  sessionStorage.setItem(WATCHER_KEY, watcher.id);
  live.subscribe(watcher.channel || `watcher:${watcher.id}`, onFileEvent);

  rootPath = await loadDir('.');
  $('root-path').textContent = rootPath;
  renderTree();
}

// ---------------------------------------------------------------- servers

function renderServers(servers) {
  if (!servers.length) {
    $('servers').replaceChildren(el('li', { class: 'empty' }, 'no servers'));
    return;
  }
  $('servers').replaceChildren(...servers.map((server) => {
    const safeUrl = /^https?:\/\//i.test(server.url || '') ? server.url : null;
    const health = server.healthy === undefined ? '' : server.healthy ? ' ✓' : ' ✗';
    return el('li', { 'data-slug': server.slug }, [
      el('span', { class: 'slug' }, server.slug),
      el('span', { class: 'badge', 'data-status': server.status, title: 'status' + (health ? ' / health' : '') }, server.status + health),
      server.port ? el('span', { class: 'muted' }, `:${server.port}`) : null,
      safeUrl ? el('a', { href: safeUrl, target: '_blank', rel: 'noopener noreferrer' }, 'open ↗') : null,
    ]);
  }));
}

async function refreshServers() {
  try {
    const data = await api('GET', 'servers');
    renderServers(data.servers || []);
  } catch (error) {
    if (error.status !== 401) console.warn('servers:', error);
  }
}

function pollServers() {
  if (signedOutShown) return;
  const next = () => setTimeout(pollServers, 3000);
  if (document.hidden) return next();
  refreshServers().finally(next);
}

// ---------------------------------------------------------------- start

function reportError(error) {
  if (error?.status === 401) return;
  console.error(error);
  term.write(`\r\n\x1b[31m[${error?.message || error}]\x1b[0m\r\n`);
}

// Test and debugging hook.
window.__sandboxd = {
  dropSocket: () => live.drop(),
  terminalText() {
    const buffer = term.buffer.active;
    const lines = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n');
  },
  get terminalId() { return shell?.id; },
  get state() { return $('status').dataset.state; },
  statusHistory,
  term,
};

async function main() {
  stripLandingParams();
  let signedIn;
  try {
    signedIn = await isSignedIn();
  } catch {
    setStatus('reconnecting'); // agent unreachable: try again
    setTimeout(main, 2000);
    return;
  }
  if (!signedIn) return showSignedOut();

  $('workspace').hidden = false;
  startTerminal();
  live.onOpen = (reconnected) => {
    sendResize(); // the window may have changed size meanwhile (or since the terminal was created, after a reload)
    if (reconnected) {
      reloadListings(); // watcher events may have been missed while the socket was down
      refreshServers();
    }
  };
  live.connect();
  $('files-refresh').addEventListener('click', reloadListings);
  pollServers();
  await Promise.all([
    openTerminal().catch(reportError),
    openFiles().catch(reportError),
  ]);
}

main();
