// End-to-end: `gatehouse keys create|list|revoke` against the SQLite store a config names. The
// secret is printed once (the last line of create's output) and is nowhere else: not in list's
// output (table or JSON), not in the database file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouseBin, sha256 } from './harness.mjs';

const KEY_SHAPE = /^gh_[A-Za-z0-9_-]{43}$/;

// A config in a fresh directory whose store is keys.db beside it. The provider's token comes from
// an environment variable the tests never set: managing keys must not need provider secrets.
function setup({ extra = '', store = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'));
  const db = join(dir, 'keys.db');
  const yaml = `providers:
  local:
    kind: openai-compatible
    base_url: "http://127.0.0.1:9/v1"
    auth: {token: "\${GATEHOUSE_E2E_UNSET_PROVIDER_TOKEN}"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x"}
keys:
  - {name: from-file, sha256: "${sha256('file-key')}"}
${store ? `store:\n  sqlite: "${db}"\n` : ''}${extra}`;
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(config, yaml);
  return { config, db };
}

function keys(...args) {
  const r = spawnSync(gatehouseBin, ['keys', ...args], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.error, undefined, String(r.error));
  return r;
}

function ok(r) {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function refused(r, pattern) {
  assert.equal(r.status, 1, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  return r;
}

// The secret: the last line of create's standard output, with nothing after it.
function secretOf(r) {
  assert.ok(r.stdout.endsWith('\n'), JSON.stringify(r.stdout));
  const lines = r.stdout.slice(0, -1).split('\n');
  const secret = lines.at(-1);
  assert.match(secret, KEY_SHAPE);
  return secret;
}

// Every way the secret could leak into `text`.
function assertNoSecret(text, secret, what) {
  assert.ok(!text.includes(secret), `${what} contains the secret`);
  assert.ok(!text.includes(secret.slice(3)), `${what} contains the secret's body`);
  assert.ok(!text.includes(sha256(secret)), `${what} contains the secret's digest`);
  assert.ok(!text.toLowerCase().includes(sha256(secret).slice(0, 16)), `${what} contains part of the digest`);
}

// The database and its WAL/shared-memory files, as bytes.
function storeBytes(db) {
  return [db, `${db}-wal`, `${db}-shm`].filter(existsSync).map((f) => readFileSync(f));
}

test('create prints a summary and the key once, on the last line; list shows it without the secret', () => {
  const { config, db } = setup();
  const r = ok(keys('create', '--config', config, '--name', 'ci-bot', '--project', 'search',
    '--expires', '30d', '--tag', 'team=platform', '--tag', 'env=prod'));
  const secret = secretOf(r);
  assert.equal(r.stdout.split(secret).length, 2, 'the key is printed exactly once');
  assert.match(r.stdout, /created key 'ci-bot'/);
  assert.match(r.stdout, /project: search/);
  assert.match(r.stdout, /tags: +team=platform,env=prod/);
  assert.match(r.stdout, /expires: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
  assert.ok(!r.stderr.includes(secret));

  const table = ok(keys('list', '--config', config));
  assertNoSecret(table.stdout + table.stderr, secret, 'list (table)');
  const header = table.stdout.split('\n')[0];
  assert.match(header, /^NAME +PREFIX +ROLE +PROJECT +TAGS +CREATED +EXPIRES +STATUS$/);
  const row = table.stdout.split('\n').find((l) => l.startsWith('ci-bot '));
  assert.ok(row, table.stdout);
  assert.ok(row.includes(`gh_${secret.slice(3, 11)}\u2026`), row);
  assert.match(row, /team=platform,env=prod/);
  assert.match(row, / active$/);

  const listed = ok(keys('list', '--config', config, '--format', 'json'));
  assertNoSecret(listed.stdout + listed.stderr, secret, 'list (json)');
  const all = JSON.parse(listed.stdout);
  assert.equal(all.length, 1);
  const k = all[0];
  assert.deepEqual(Object.keys(k).sort(),
    ['created_at', 'expires_at', 'name', 'prefix', 'project', 'revoked_at', 'role', 'status', 'tags']);
  assert.equal(k.name, 'ci-bot');
  assert.equal(k.prefix, `gh_${secret.slice(3, 11)}`);
  assert.equal(k.role, '');
  assert.equal(k.project, 'search');
  assert.deepEqual(k.tags, { team: 'platform', env: 'prod' });
  assert.equal(k.status, 'active');
  assert.equal(k.revoked_at, null);
  const created = Date.parse(k.created_at);
  assert.ok(Math.abs(created - Date.now()) < 60_000, k.created_at);
  assert.equal(Date.parse(k.expires_at) - created, 30 * 86400 * 1000);
  assert.match(k.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  // The database holds the digest (so this is the right file) but never the secret.
  const files = storeBytes(db);
  const digest = Buffer.from(sha256(secret), 'hex');
  assert.ok(files.some((b) => b.includes(digest)), 'the store holds the key\'s digest');
  for (const bytes of files) {
    assert.ok(!bytes.includes(Buffer.from(secret)), 'the store contains the secret');
    assert.ok(!bytes.includes(Buffer.from(secret.slice(3))), 'the store contains the secret\'s body');
    assert.ok(!bytes.includes(Buffer.from(secret.slice(11))), 'the store contains the unshown part of the secret');
  }
});

test('revoke marks the key revoked; revoking again or an unknown name is exit 1', () => {
  const { config } = setup();
  secretOf(ok(keys('create', '--config', config, '--name', 'temp')));
  const r = ok(keys('revoke', '--config', config, 'temp'));
  assert.match(r.stdout, /revoked key 'temp'/);
  const [k] = JSON.parse(ok(keys('list', '--config', config, '--format', 'json')).stdout);
  assert.equal(k.status, 'revoked');
  assert.match(k.revoked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(ok(keys('list', '--config', config)).stdout.split('\n')[1], / revoked$/);

  refused(keys('revoke', '--config', config, 'temp'), /no active key named temp.*revoked at/);
  refused(keys('revoke', '--config', config, 'nobody'), /no active key named nobody/);
  refused(keys('revoke', '--config', config, 'from-file'), /no active key named from-file.*under keys/);
  // A revoked key keeps its name.
  refused(keys('create', '--config', config, '--name', 'temp'), /already exists/);
});

test('a duplicate name is exit 1, whether it is in the store or in the config file', () => {
  const { config } = setup();
  ok(keys('create', '--config', config, '--name', 'dup'));
  const again = refused(keys('create', '--config', config, '--name', 'dup'), /a key named 'dup' already exists/);
  assert.equal(again.stdout, '', 'no key printed');
  refused(keys('create', '--config', config, '--name', 'from-file'), /'from-file' is already defined in .*keys:/);
  assert.equal(JSON.parse(ok(keys('list', '--config', config, '--format', 'json')).stdout).length, 1);
});

test('with roles defined, --role must name one of them (the message lists them)', () => {
  const { config } = setup({
    extra: `roles:
  developer: {models: ["chat-*"]}
  analyst: {models: ["*"]}
`,
  });
  const bad = refused(keys('create', '--config', config, '--name', 'r1', '--role', 'admin'),
    /role 'admin' is not defined/);
  assert.match(bad.stderr, /analyst, developer/);
  assert.equal(bad.stdout, '');
  refused(keys('create', '--config', config, '--name', 'r2'), /--role is required.*analyst, developer/);
  ok(keys('create', '--config', config, '--name', 'r3', '--role', 'developer'));
  const [k] = JSON.parse(ok(keys('list', '--config', config, '--format', 'json')).stdout);
  assert.equal(k.role, 'developer');
});

test('without roles, --role is refused; bad names, lifetimes and tags are exit 1', () => {
  const { config, db } = setup();
  refused(keys('create', '--config', config, '--name', 'x', '--role', 'dev'), /defines no roles/);
  refused(keys('create', '--config', config, '--name', 'has space'), /letters, digits/);
  refused(keys('create', '--config', config, '--name', 'x', '--expires', '30s'), /--expires 30s/);
  refused(keys('create', '--config', config, '--name', 'x', '--tag', 'novalue'), /name=value/);
  refused(keys('create', '--config', config, '--name', 'x', '--tag', 'a=1', '--tag', 'a=2'), /twice/);
  assert.ok(!existsSync(db), 'refused before the store was touched');
});

test('a config without a store, or with a store path from an unset variable, is exit 1', () => {
  const { config } = setup({ store: false });
  refused(keys('create', '--config', config, '--name', 'x'), /names no key store/);
  refused(keys('list', '--config', config), /names no key store/);

  const { config: unset } = setup({ store: false, extra: 'store:\n  sqlite: "${GATEHOUSE_E2E_UNSET_DIR}/keys.db"\n' });
  refused(keys('list', '--config', unset), /GATEHOUSE_E2E_UNSET_DIR is not set/);
});

test('list of an empty store, and usage errors', () => {
  const { config } = setup();
  assert.match(ok(keys('list', '--config', config)).stdout, /no keys in/);
  assert.deepEqual(JSON.parse(ok(keys('list', '--config', config, '--format', 'json')).stdout), []);
  // CLI11 reports usage errors (a missing option, an unknown format) with its own non-zero codes.
  for (const args of [['create', '--config', config], ['list', '--config', config, '--format', 'xml'], ['revoke', '--config', config], []]) {
    const r = keys(...args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.notEqual(r.status, 1, args.join(' '));
  }
});

test('usage errors exit 2 and name what was not understood, with the nearest known name', () => {
  const run = (...args) => spawnSync(gatehouseBin, args, { encoding: 'utf8', timeout: 15000 });
  const usage = (r, pattern) => {
    assert.equal(r.status, 2, `exit ${r.status}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  };
  // A mistyped option is named (not "--config is required").
  usage(run('serve', '--confg', 'gatehouse.yaml'), /unknown option --confg for serve; did you mean --config\?/);
  usage(run('servee', '--config', 'gatehouse.yaml'), /unknown command 'servee'; did you mean serve\?/);
  usage(run('keys', 'lst', '--config', 'gatehouse.yaml'), /unknown command 'lst' for keys; did you mean list\?/);
  usage(run('keys', 'create', '--config', 'gatehouse.yaml', '--nme', 'x'), /unknown option --nme for create; did you mean --name\?/);
  usage(run('usage', '--config', 'gatehouse.yaml', '--by', 'proj'), /--by: proj not in/);
  usage(run('check-config'), /file is required/);
  usage(run(), /subcommand is required/);
  assert.equal(run('--version').status, 0);
  assert.equal(run('serve', '--help').status, 0);
});

test('gatehouse logs says when the inference log is off', () => {
  const { config } = setup();
  const r = spawnSync(gatehouseBin, ['logs', '--config', config], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /the inference log is off in .*gatehouse\.yaml \(no records\.inference_log\)/);
});
