// A PostgreSQL server of the tests' own (the conformance twin of tests/Sandboxd.Client.Tests/Infrastructure/PostgresServer.cs):
// initdb into a temp dir (as the postgres user when root), pg_ctl start on a free port on 127.0.0.1 with its Unix
// socket in that dir, a login role with a password (SCRAM over TCP), a database per test file, pg_ctl stop -m
// immediate and removal at the end.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's PostgreSQL bin dir (newest major), or null. */
export function postgresBinaries() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((x, y) => Number(y) - Number(x));
  return versions.length ? join(root, versions[0], 'bin') : null;
}

/** The reason to skip (said loudly), or null; under CI a missing PostgreSQL is an error, not a skip. */
export function postgresSkipReason() {
  if (postgresBinaries()) return null;
  const message = 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): SKIPPING; apt-get install postgresql';
  if (process.env.CI === 'true') throw new Error(`${message} (CI must run these: .ci/run installs it)`);
  console.error(`*** ${message}`);
  return message;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export class PostgresServer {
  static async start() {
    const bin = postgresBinaries();
    const root = process.getuid() === 0;
    const uid = root ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : null;
    const gid = root ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : null;
    const dir = mkdtempSync(join(tmpdir(), 'sandboxd-pg-'));
    if (root) chownSync(dir, uid, gid);
    const server = new PostgresServer(bin, dir, root ? 'postgres' : null, await freePort());
    try {
      const pwfile = join(dir, 'pwfile');
      writeFileSync(pwfile, `${server.password}\n`);
      if (root) chownSync(pwfile, uid, gid);
      server.tool('initdb', ['-D', server.data, '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--auth-local=trust', '--auth-host=scram-sha-256', '--pwfile', pwfile]);
      // fsync off: a throwaway server on a shared test machine.
      server.tool('pg_ctl', ['-D', server.data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o',
        `-p ${server.port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
      server.sql('postgres', `CREATE ROLE sandboxd LOGIN PASSWORD '${server.password}'`);
      return server;
    } catch (e) {
      server.stop();
      throw e;
    }
  }

  constructor(bin, dir, runAs, port) {
    this.bin = bin;
    this.dir = dir;
    this.runAs = runAs;
    this.port = port;
    this.data = join(dir, 'data');
    this.password = randomBytes(12).toString('hex');
  }

  tool(name, args) {
    const file = join(this.bin, name);
    const [cmd, argv] = this.runAs ? ['runuser', ['-u', this.runAs, '--', file, ...args]] : [file, args];
    return execFileSync(cmd, argv, { cwd: '/', timeout: 90_000, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  }

  sql(database, statement) {
    return this.tool('psql', ['-h', this.dir, '-p', String(this.port), '-U', 'postgres', '-d', database, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', statement]);
  }

  /** A new database owned by the gateways' role: its postgres:// URL. */
  createDatabase(prefix) {
    const name = `${prefix}_${randomBytes(4).toString('hex')}`;
    this.sql('postgres', `CREATE DATABASE ${name} OWNER sandboxd`);
    return { name, url: `postgres://sandboxd:${this.password}@127.0.0.1:${this.port}/${name}` };
  }

  stop() {
    try {
      if (existsSync(join(this.data, 'postmaster.pid'))) this.tool('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
