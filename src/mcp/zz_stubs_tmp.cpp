// TEMPORARY (removed when the helpers' branches merge): placeholders so the core links.
#include "mcp/stdio.h"
namespace gatehouse::mcp {
class StdioProcesses {};
std::shared_ptr<StdioProcesses> make_stdio_processes(std::size_t, std::chrono::milliseconds) { return std::make_shared<StdioProcesses>(); }
void stop_all(StdioProcesses&) {}
std::unique_ptr<Upstream> make_stdio_upstream(std::shared_ptr<StdioProcesses>, const config::McpServerConfig&) { return nullptr; }
}  // namespace gatehouse::mcp
