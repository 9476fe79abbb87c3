// A real PostgreSQL for the end-to-end tests: a throw-away cluster in a temporary directory, on a
// free loopback port, with a database and a password-protected user. initdb and postgres refuse
// to run as root, so as root they run as the `postgres` system user (setpriv) in a directory
// chowned to it.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

// The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin).
function pgBin() {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  if (majors.length === 0) throw new Error('no PostgreSQL server in /usr/lib/postgresql (run scripts/setup.sh)');
  majors.sort((a, b) => Number(b) - Number(a));
  return join(root, majors[0], 'bin');
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts a server; resolves to {url, password, port, stop()}. `url` has the user's password in it.
export async function startPostgres({ database = 'gatehouse', user = 'gatehouse', password = 'pw-Secret-7f3kq' } = {}) {
  const bin = pgBin();
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  execFileSync('mkdir', ['-p', sock]);
  // The superuser's password reaches initdb through a file only it can read.
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, 'super-' + password + '\n');
  chmodSync(dir, 0o700);
  const ids = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : null;
  if (ids) {
    for (const p of [dir, sock, pwfile]) chownSync(p, ids.uid, ids.gid);
  }
  // setpriv execs the command itself (runuser would stay its parent and not pass signals on).
  const as = (cmd, args) => (asRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', cmd, ...args]] : [cmd, args]);

  const [initCmd, initArgs] = as(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8']);
  execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  const [pgCmd, pgArgs] = as(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', sock,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']);
  const child = spawn(pgCmd, pgArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  child.stdout.on('data', (b) => output.push(b.toString()));
  child.stderr.on('data', (b) => output.push(b.toString()));
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));

  const psql = (sql, db = 'postgres') => {
    const [c, a] = as(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql]);
    return execFileSync(c, a, { env: { ...process.env, PGPASSWORD: 'super-' + password }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  };
  // Ready when it answers a query (pg_isready would also need the password-less path).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited before ready:\n${output.join('')}`);
    try {
      psql('SELECT 1');
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`postgres not ready in 30 s:\n${output.join('')}\n${e.stderr ?? e}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  psql(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
  psql(`CREATE DATABASE ${database} OWNER ${user}`);

  // The same, without waiting: a promise of its output (e.g. to hold a lock while a test acts).
  const psqlAsync = (sql, db) => new Promise((resolve, reject) => {
    const [c, a] = as(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql]);
    execFile(c, a, { env: { ...process.env, PGPASSWORD: 'super-' + password } }, (err, stdout, stderr) => (err ? reject(new Error(`${err}\n${stderr}`)) : resolve(stdout)));
  });

  let stopped = false;
  return {
    port,
    password,
    url: `postgresql://${user}:${password}@127.0.0.1:${port}/${database}`,
    // Runs SQL as the superuser in `db` (the test's own checks, e.g. counting rows).
    psql: (sql, db = database) => psql(sql, db),
    psqlAsync: (sql, db = database) => psqlAsync(sql, db),
    // Another empty database owned by the user; its URL.
    createDatabase(name) {
      psql(`CREATE DATABASE ${name} OWNER ${user}`);
      return `postgresql://${user}:${password}@127.0.0.1:${port}/${name}`;
    },
    output,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');  // fast shutdown
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
