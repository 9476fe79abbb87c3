// Streamable HTTP upstreams: MCP servers at a URL, reached through the calling worker's
// connection pools, with the credential the config gives (a token, a header, OAuth client
// credentials or a provider's; the caller's JWT only for passthrough servers).
#pragma once

#include <memory>

#include "config/config.h"
#include "mcp/upstream.h"

namespace gatehouse::provider {
class OAuthTokenSource;
}

namespace gatehouse::mcp {

// `oauth`: the token source when the server's credential is OAuth client credentials (null else).
std::unique_ptr<Upstream> make_http_upstream(const config::McpServerConfig& server,
                                             std::shared_ptr<provider::OAuthTokenSource> oauth);

}  // namespace gatehouse::mcp
