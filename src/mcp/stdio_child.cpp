#include "mcp/stdio_child.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace gatehouse::mcp {

namespace {

// Closes what it holds unless released.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

// The value of NAME in a "NAME=value" list, or nullptr.
const char* find_env(const std::vector<std::string>& env, std::string_view name) {
  for (const auto& e : env) {
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=') {
      return e.c_str() + name.size() + 1;
    }
  }
  return nullptr;
}

// argv[0] as execve needs it: as given when it names a path, else the first executable file of
// that name in the child's PATH (posix_spawnp would search the gateway's PATH instead, which
// differs when the config sets PATH).
std::optional<std::string> resolve(const std::string& file, const std::vector<std::string>& env) {
  if (file.find('/') != std::string::npos) return file;
  const char* path = find_env(env, "PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + file;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

}  // namespace

std::vector<std::string> child_environment(const std::map<std::string, std::string>& configured) {
  std::vector<std::string> env;
  env.reserve(configured.size() + 2);
  for (const auto& [name, value] : configured) env.push_back(name + "=" + value);
  for (const char* inherited : {"PATH", "HOME"}) {
    if (configured.count(inherited)) continue;
    if (const char* v = std::getenv(inherited)) env.push_back(std::string(inherited) + "=" + v);
  }
  return env;
}

std::variant<Child, std::string> spawn_child(const std::vector<std::string>& command,
                                             const std::vector<std::string>& env,
                                             const std::string& cwd) {
  if (command.empty()) return std::string("no command");
  // A relative argv[0] with a '/' is found from cwd, where the child runs.
  std::optional<std::string> file = resolve(command[0], env);
  if (!file) return "'" + command[0] + "' is not an executable file in PATH";

  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  Fd in_r{in[0]}, in_w{in[1]};
  if (::pipe2(out, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  Fd out_r{out[0]}, out_w{out[1]};
  if (::pipe2(err, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  Fd err_r{err[0]}, err_w{err[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
  // Whatever else the gateway has open (client sockets, the store) is not the child's business;
  // not every descriptor asio opens is close-on-exec.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group: stopping the server stops whatever it started (npx -> node).
  posix_spawnattr_setpgroup(&attr, 0);
  // The gateway ignores SIGPIPE and its registry thread blocks signals; both would be inherited.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, file->c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return "could not start '" + command[0] + "'" + (cwd.empty() ? "" : " in " + cwd) + ": " +
           std::strerror(rc);
  }
  for (int fd : {in_w.fd, out_r.fd, err_r.fd}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return Child{pid, in_w.release(), out_r.release(), err_r.release()};
}

std::string describe_exit(int code, int status) {
  if (code == CLD_EXITED) return "exited with status " + std::to_string(status);
  if (code == CLD_KILLED || code == CLD_DUMPED) {
    const char* name = ::sigabbrev_np(status);
    return "was killed by signal " + std::to_string(status) +
           (name ? std::string(" (SIG") + name + ")" : std::string());
  }
  return "ended";
}

}  // namespace gatehouse::mcp
