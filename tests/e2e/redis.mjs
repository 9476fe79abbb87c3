// A real redis-server (Debian's) on a loopback port, for the scale-out tests: started with a
// password and no persistence, stopped after. It can be paused (SIGSTOP: a Redis that stops
// answering), stopped and started again on the same port.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:net';

const run = promisify(execFile);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// One command with redis-cli (Debian's redis-tools, installed with redis-server): its output.
export async function redisCommand(port, password, args) {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '-a', password, '--no-auth-warning', ...args.map(String)],
    { timeout: 3000 });
  return stdout.trim();
}

export async function startRedis({ password = 'redis-test-Pw9' } = {}) {
  const port = await freePort();
  let child = null;
  let output = '';
  const launch = async () => {
    output = '';
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--requirepass', password, '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        const r = await redisCommand(port, password, ['PING']);
        if (r.includes('PONG')) return;
      } catch { /* not yet */ }
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
      if (Date.now() > end) throw new Error(`redis-server did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await launch();
  const redis = {
    port,
    password,
    url: `redis://127.0.0.1:${port}/0`,
    command: (...args) => redisCommand(port, password, args),
    pause() { child.kill('SIGSTOP'); },
    resume() { child.kill('SIGCONT'); },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
    async start() { await launch(); },
  };
  return redis;
}
