#!/usr/bin/env node
// A tiny stdio MCP server (the official SDK's McpServer over StdioServerTransport) that shows what
// the process it runs in looks like, for the gateway's stdio tests:
//   whoami {}  -> text: JSON {pid, ppid, env: {...every environment variable...}, argv}
//   echo {text} -> text: "env: <text>"
// The gateway must start it with only the environment its config names plus PATH and HOME, one
// process per client session, and stop it when the session ends.
//
//   node env_server.mjs
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const server = new McpServer({ name: 'env', version: '1.0.0' });
server.registerTool('whoami', {
  description: 'The process id, parent process id, environment and argv of this server process.',
  inputSchema: {},
  annotations: { readOnlyHint: true },
}, async () => ({
  content: [{ type: 'text', text: JSON.stringify({ pid: process.pid, ppid: process.ppid, env: { ...process.env }, argv: process.argv.slice(2) }) }],
}));
server.registerTool('echo', {
  description: 'Echoes the text back.',
  inputSchema: { text: z.string() },
  annotations: { readOnlyHint: true },
}, async ({ text }) => ({ content: [{ type: 'text', text: `env: ${text}` }] }));

await server.connect(new StdioServerTransport());
// Ends with its stdin (the gateway closing the pipe) or a signal.
process.stdin.on('end', () => process.exit(0));
