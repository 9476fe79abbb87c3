#include "gateway/responses_api.h"

#include <boost/url/parse.hpp>

#include <charconv>

#include "gateway/endpoints.h"
#include "gateway/respond.h"
#include "responses/conversation.h"
#include "responses/state.h"
#include "runtime/services.h"

namespace gatehouse::gateway {

namespace {

constexpr std::string_view kResponses = "/responses/";

Error no_store() {
  return Error::bad_request(
      "this gateway keeps no responses: previous_response_id and /v1/responses/{id} need a store "
      "(store.sqlite or store.postgres) with responses.store on; send the whole conversation in 'input' instead",
      "previous_response_id");
}

Error not_found(std::string_view id) {
  Error e = Error::not_found("Response with id '" + std::string(id.substr(0, 128)) + "' not found.", "not_found");
  return e;
}

bool plausible_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

// The input_items query: limit (1-100, default 20), order (asc|desc, default desc), after.
struct ListQuery {
  std::size_t limit = 20;
  bool ascending = false;
  std::string after;
};

std::variant<ListQuery, Error> list_query(std::string_view target) {
  ListQuery q;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return Error::bad_request("the request's URL cannot be read");
  for (auto p : url->params()) {
    if (p.key == "limit") {
      int n = 0;
      auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
      if (ec != std::errc() || end != p.value.data() + p.value.size() || n < 1 || n > 100) {
        return Error::bad_request("'limit' must be an integer from 1 to 100", "limit");
      }
      q.limit = std::size_t(n);
    } else if (p.key == "order") {
      if (p.value != "asc" && p.value != "desc") return Error::bad_request("'order' must be asc or desc", "order");
      q.ascending = p.value == "asc";
    } else if (p.key == "after") {
      q.after = p.value;
    }
  }
  return q;
}

}  // namespace

boost::asio::awaitable<void> serve_stored_response(http::Exchange& ex, pipeline::RequestContext& ctx,
                                                   const runtime::Snapshot& snapshot) {
  std::string_view rest = ctx.ingress.path.substr(ctx.ingress.path.find(kResponses) + kResponses.size());
  bool items = false;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/input_items") co_return co_await respond_error(ex, ctx, not_found(rest.substr(0, slash)));
    items = true;
    rest = rest.substr(0, slash);
  }
  const std::string id(rest);
  const auto method = ex.request().method();
  const bool get = method == boost::beast::http::verb::get || method == boost::beast::http::verb::head;
  if (!get && (items || method != boost::beast::http::verb::delete_)) {
    const char* allowed = items ? "GET, HEAD" : "GET, HEAD, DELETE";
    ctx.set_response_header("allow", allowed);
    const Error refused = method_not_allowed(allowed);
    co_return co_await respond_error(ex, ctx, refused);
  }
  auto& state = snapshot.services.responses;
  if (!state || !snapshot.config->responses.store) co_return co_await respond_error(ex, ctx, not_found(id));
  if (!plausible_id(id)) co_return co_await respond_error(ex, ctx, not_found(id));
  const std::string owner = responses::owner_of(ctx.identity);
  if (!get) {
    auto removed = co_await state->remove(id, owner);
    if (auto* e = std::get_if<std::string>(&removed)) {
      co_return co_await respond_error(ex, ctx, responses::store_unavailable(*e));
    }
    if (!std::get<bool>(removed)) co_return co_await respond_error(ex, ctx, not_found(id));
    co_return co_await respond(ex, ctx, 200, "application/json",
                               "{\"id\":" + api::json_quote(id) + ",\"object\":\"response\",\"deleted\":true}");
  }
  std::variant<ListQuery, Error> query = ListQuery{};
  if (items) query = list_query(ctx.ingress.target);
  if (auto* e = std::get_if<Error>(&query)) co_return co_await respond_error(ex, ctx, *e);
  auto found = co_await state->get(id, owner);
  if (auto* e = std::get_if<std::string>(&found)) {
    co_return co_await respond_error(ex, ctx, responses::store_unavailable(*e));
  }
  auto& row = std::get<std::optional<store::ResponseRow>>(found);
  if (!row) co_return co_await respond_error(ex, ctx, not_found(id));
  if (!items) co_return co_await respond(ex, ctx, 200, "application/json", std::move(row->response));
  const auto& q = std::get<ListQuery>(query);
  co_return co_await respond(ex, ctx, 200, "application/json",
                             responses::list_input_items(row->input_items, q.ascending, q.after, q.limit));
}

boost::asio::awaitable<std::optional<Error>> expand_conversation(pipeline::RequestContext& ctx,
                                                                 const runtime::Snapshot& snapshot,
                                                                 api::CanonicalRequest& canonical) {
  auto& state = snapshot.services.responses;
  if (!state || !snapshot.config->responses.store) co_return no_store();
  auto chain = co_await state->chain(canonical.previous_response_id, responses::owner_of(ctx.identity),
                                     snapshot.config->responses.max_chain);
  if (auto* e = std::get_if<Error>(&chain)) co_return std::move(*e);
  const auto& rows = std::get<std::vector<store::ResponseRow>>(chain);
  std::vector<responses::Turn> turns;
  turns.reserve(rows.size());
  for (const auto& row : rows) turns.push_back({row.input_items, row.response});
  auto expanded = responses::expand(ctx.request.body, turns);
  if (auto* e = std::get_if<Error>(&expanded)) co_return std::move(*e);
  ctx.request.body_storage = std::move(std::get<std::string>(expanded));
  ctx.request.body = ctx.request.body_storage;
  const std::string model = canonical.model;
  auto again = api::decode_request(ApiShape::kResponses, api::Operation::kResponses, ctx.request.body_storage);
  ctx.request.body = ctx.request.body_storage;  // decoding may have reserved more room
  if (auto* e = std::get_if<Error>(&again)) co_return std::move(*e);
  canonical = std::move(std::get<api::CanonicalRequest>(again));
  canonical.model = model;
  co_return std::nullopt;
}

}  // namespace gatehouse::gateway
