// Claude Code (npm @anthropic-ai/claude-code, the real CLI) as an MCP client, in a home and working
// directory of its own, talking to nothing but `anthropicBaseURL` and the MCP servers it is given.
//
//   const cc = claudeCode({ anthropicBaseURL: mock.base, apiKey: 'k' });
//   await cc.mcpAdd('crm', 'http://127.0.0.1:PORT/mcp/crm', { headers: { Authorization: 'Bearer KEY' } });
//   const run = await cc.print('Say pong', { model: 'claude-x', args: ['--tools', '', '--allowedTools', 'mcp__crm'] });
//   ... the tools of its /v1/messages requests: mcpToolNames(body, 'crm') -> ['echo', ...]
//   cc.cleanup();
//
// What works (Claude Code 2.1.197):
// * `claude mcp add --transport http --scope user NAME URL --header "Authorization: Bearer X"`
//   writes {"mcpServers": {NAME: {type: "http", url, headers}}} to $HOME/.claude.json. `--header`
//   (-H) takes several values, so it goes after NAME and URL. `--scope user` keeps the entry
//   independent of the working directory (the default `local` scope files it under the cwd).
// * `claude mcp list` connects to each server (initialize) and prints `NAME: URL (HTTP) - ✔ Connected`
//   or `✘ Failed to connect`; `claude mcp get NAME` prints the entry and its status.
// * `claude -p PROMPT` connects to the servers first (initialize with protocol 2025-11-25 and
//   capabilities {roots, elicitation} — no sampling —, notifications/initialized, the GET stream,
//   tools/list, prompts/list, resources/list), then offers the tools in every /v1/messages
//   request as `mcp__NAME__TOOL` (sorted by name, inputSchema as given).
// * `--tools ""` drops the built-in tools, so the MCP tools are all that is offered;
//   `--disallowedTools mcp__NAME__T ...` removes tools from the offer; `--allowedTools mcp__NAME`
//   lets print mode call them without asking. mockllm calls the first tool offered with
//   {"echo": "<16 chars>"}: with test_server.mjs's `echo` first, Claude Code calls it and hands
//   the result back (a tools/call with `_meta: {progressToken, "claudecode/toolUseId"}`).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const claudeBin = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', 'claude');
const RUN_TIMEOUT_MS = 120_000;

export function claudeCode({ anthropicBaseURL, apiKey = 'sk-unused', env: extraEnv = {} } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-claude-home-'));
  const cwd = mkdtempSync(join(tmpdir(), 'gatehouse-claude-work-'));
  // Built from nothing: no proxy variables, no ANTHROPIC_* of the developer's. The DISABLE_*
  // variables keep it from reaching anything but the base URL (see claude_code.test.mjs).
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    ...(anthropicBaseURL ? { ANTHROPIC_BASE_URL: anthropicBaseURL, ANTHROPIC_API_KEY: apiKey } : {}),
    ...extraEnv,
  };

  async function run(args, { timeoutMs = RUN_TIMEOUT_MS } = {}) {
    const child = spawn(claudeBin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise((res, rej) => {
      child.on('error', rej);
      child.on('close', (c, signal) => res(c ?? signal));
    });
    clearTimeout(timer);
    return { code, stdout, stderr };
  }
  const must = (what, r) => {
    if (r.code !== 0) throw new Error(`claude ${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };

  return {
    home, cwd, env, run,
    // claude mcp add --transport http --scope user NAME URL --header "K: V"...
    async mcpAdd(name, url, { headers = {}, transport = 'http', scope = 'user' } = {}) {
      const h = Object.entries(headers).flatMap(([k, v]) => ['--header', `${k}: ${v}`]);
      return must('mcp add', await run(['mcp', 'add', '--transport', transport, '--scope', scope, name, url, ...h]));
    },
    async mcpRemove(name, { scope = 'user' } = {}) { return must('mcp remove', await run(['mcp', 'remove', name, '--scope', scope])); },
    // `claude mcp list`: {NAME: 'connected' | 'failed' | other status text}.
    async mcpList() {
      const r = must('mcp list', await run(['mcp', 'list']));
      const status = {};
      for (const line of r.stdout.split('\n')) {
        const m = /^(\S+): .* - (.*)$/.exec(line);
        if (m) status[m[1]] = /Connected/.test(m[2]) ? 'connected' : /Failed/.test(m[2]) ? 'failed' : m[2].trim();
      }
      return { ...r, status };
    },
    // The MCP server entries Claude Code keeps in $HOME/.claude.json.
    config() { return JSON.parse(readFileSync(join(home, '.claude.json'), 'utf8')).mcpServers ?? {}; },
    // claude -p PROMPT --model MODEL ...args: {code, stdout, stderr}.
    async print(prompt, { model = 'claude-x', args = [], timeoutMs } = {}) {
      return run(['-p', prompt, '--model', model, ...args], { timeoutMs });
    },
    cleanup() {
      rmSync(home, { recursive: true, force: true });
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

// The MCP tools of server `name` offered in an Anthropic Messages request body (an object), with
// the `mcp__NAME__` prefix taken off, in the order offered.
export function mcpToolNames(body, name) {
  const prefix = `mcp__${name}__`;
  return (body.tools ?? []).filter((t) => t.name.startsWith(prefix)).map((t) => t.name.slice(prefix.length));
}

// The whole tool definition offered for `tool` of server `name` (description, input_schema).
export function mcpTool(body, name, tool) {
  return (body.tools ?? []).find((t) => t.name === `mcp__${name}__${tool}`);
}
