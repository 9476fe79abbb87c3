// Starting and stopping one stdio server's process: posix_spawn with three pipes, an environment
// of only what the server's config names (plus PATH and HOME), its own process group. No I/O
// here: the registry (stdio.cpp) reads and writes the pipes on its own thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gatehouse::mcp {

// A started child: its pid (also its process group id) and the gateway's ends of its pipes
// (non-blocking, close-on-exec). The caller owns the descriptors and must reap the pid.
struct Child {
  pid_t pid = -1;
  int stdin_fd = -1;   // write: the server's stdin
  int stdout_fd = -1;  // read: its stdout
  int stderr_fd = -1;  // read: its stderr
};

// The environment a stdio server gets, as "NAME=value" strings: `configured` plus PATH and HOME
// from the gateway's own environment (when set and not configured). Nothing else of the
// gateway's environment — its secrets — ever reaches a server.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& configured);

// Starts `command` (argv; argv[0] looked up in PATH when it has no '/') in `cwd` (when not empty)
// with `env` as its whole environment, in a new process group, every signal at its default
// disposition and none blocked. An error: why it could not start (for the client and the log).
std::variant<Child, std::string> spawn_child(const std::vector<std::string>& command,
                                             const std::vector<std::string>& env,
                                             const std::string& cwd);

// How a child ended, from waitid(2)'s answer: "exited with status 1", "was killed by signal 9".
std::string describe_exit(int code, int status);

}  // namespace gatehouse::mcp
