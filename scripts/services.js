#!/usr/bin/env node
// Makes sure the Redis, MySQL and PostgreSQL the tests use are reachable: starts local servers when they
// are installed but not running, otherwise says exactly what is missing. Used by `npm test`.
'use strict';
const net = require('net');
const { execSync, spawnSync } = require('child_process');
const { existsSync, mkdirSync, readdirSync } = require('fs');

const redisUrl = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const dbUrl = new URL(process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/test');
const pgUrl = new URL(process.env.PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres');

function reachable(host, port, ms = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const local = (u) => ['127.0.0.1', 'localhost', '::1'].includes(u.hostname);

async function waitFor(host, port, what, seconds) {
  for (let i = 0; i < seconds * 10; i++) {
    if (await reachable(host, port, 200)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up on ${host}:${port} within ${seconds} s`);
}

async function ensureRedis() {
  const port = redisUrl.port || 6379;
  if (await reachable(redisUrl.hostname, port)) return;
  if (!local(redisUrl) || !has('redis-server')) {
    throw new Error(`Redis is not reachable at ${redisUrl.host}. Install it (Debian: apt-get install redis-server) or set REDIS_URL.`);
  }
  console.log(`starting redis-server on port ${port}`);
  execSync(`redis-server --daemonize yes --bind 127.0.0.1 --port ${port} --save "" --appendonly no`, { stdio: 'inherit' });
  await waitFor('127.0.0.1', port, 'Redis', 10);
}

async function ensureMysql() {
  const port = dbUrl.port || 3306;
  if (!(await reachable(dbUrl.hostname, port))) {
    const server = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((p) => existsSync(p));
    if (!local(dbUrl) || !server) {
      throw new Error(`MySQL is not reachable at ${dbUrl.host}. Install MariaDB (Debian: apt-get install mariadb-server) or set DATABASE_URL.`);
    }
    console.log(`starting ${server}`);
    mkdirSync('/run/mysqld', { recursive: true });
    spawnSync('chown', ['mysql:mysql', '/run/mysqld']);
    execSync(`start-stop-daemon --start --oknodo --background --exec ${server} -- --user=mysql`, { stdio: 'inherit' });
    await waitFor('127.0.0.1', port, 'MySQL', 30);
  }
  // The database named in DATABASE_URL must exist.
  const mysql = require('mysql2/promise');
  const db = dbUrl.pathname.slice(1) || 'test';
  for (let i = 0; ; i++) {
    try {
      const c = await mysql.createConnection({ host: dbUrl.hostname, port: Number(port), user: decodeURIComponent(dbUrl.username || 'root'), password: decodeURIComponent(dbUrl.password || '') });
      await c.query(`CREATE DATABASE IF NOT EXISTS \`${db}\``);
      await c.end();
      return;
    } catch (e) {
      if (i >= 50) throw new Error(`MySQL at ${dbUrl.host} refused us: ${e.message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function ensurePostgres() {
  const port = pgUrl.port || 5432;
  if (await reachable(pgUrl.hostname, port)) return;
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  if (!local(pgUrl) || !has('pg_ctlcluster') || versions.length === 0) {
    throw new Error(`PostgreSQL is not reachable at ${pgUrl.host}. Install it (Debian: apt-get install postgresql) or set PG_URL.`);
  }
  console.log(`starting PostgreSQL ${versions[0]}`);
  execSync(`pg_ctlcluster --skip-systemctl-redirect ${versions[0]} main start`, { stdio: 'inherit' });
  await waitFor('127.0.0.1', port, 'PostgreSQL', 30);
  // Accepting TCP connections is not yet accepting queries: pg_isready says when it does.
  for (let i = 0; i < 60 && spawnSync('pg_isready', ['-h', '127.0.0.1', '-p', String(port), '-q']).status !== 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
  }
}

module.exports = async function ensureServices() {
  await ensureRedis();
  await ensureMysql();
  await ensurePostgres();
};

if (require.main === module) {
  module.exports().then(() => console.log('Redis, MySQL and PostgreSQL are up'), (e) => { console.error(e.message); process.exit(1); });
}
