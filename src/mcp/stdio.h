// stdio MCP servers: a command the gateway starts, one process per client session and server,
// newline-delimited JSON-RPC on its stdin/stdout, stderr to the gateway's log. The process gets
// only the environment its config names plus PATH and HOME (never the gateway's own secrets).
// Processes are capped in number (mcp.stdio.max_processes), reaped when their session ends
// (Upstream::end) or idles (mcp.stdio.idle_timeout_s), and killed at shutdown.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "config/config.h"
#include "mcp/upstream.h"

namespace gatehouse::mcp {

class StdioProcesses;

// The process registry: long-lived (runtime services), thread-safe; survives reloads.
std::shared_ptr<StdioProcesses> make_stdio_processes(std::size_t max_processes,
                                                     std::chrono::milliseconds idle_timeout);
// Stops every process (at shutdown): SIGTERM to each one's group, SIGKILL after 2 s; returns
// when all are reaped and the registry's thread has ended. The registry's destructor does it too.
void stop_all(StdioProcesses& processes);
// How many processes calls can reach now (the cap counts these; not the ones still stopping).
std::size_t running_processes(const StdioProcesses& processes);

// An Upstream for one stdio server. post() writes the message as one line to the process of
// (call.session_key, server) and yields the messages that answer it (Reply::stream: progress and
// server-to-client requests may come before the response). Only `initialize` starts a process:
// any other message for a session without one (never started, ended, idled or died) is answered
// 404, so the caller initializes again — a new process knows nothing of the old one's session. A
// full registry answers 503 naming mcp.stdio.max_processes; a command that cannot start, 502.
// listen() yields the server's messages that answer no pending request (404 without a process);
// end() stops the process.
std::unique_ptr<Upstream> make_stdio_upstream(std::shared_ptr<StdioProcesses> processes,
                                              const config::McpServerConfig& server);

}  // namespace gatehouse::mcp
