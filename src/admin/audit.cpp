#include "admin/audit.h"

#include <boost/json/serialize.hpp>

#include "limit/clock.h"
#include "pipeline/records.h"
#include "record/writer.h"

namespace gatehouse::admin {

void audit(const runtime::Snapshot& snapshot, const pipeline::RequestContext& ctx, std::string kind,
           std::string subject, boost::json::object detail) {
  if (!snapshot.services.writer) return;
  store::AuditRecord r;
  r.time_ms = limit::system_now_ms();
  r.kind = std::move(kind);
  r.actor = pipeline::caller_of(ctx);
  r.subject = std::move(subject);
  r.detail = boost::json::serialize(detail);
  r.request_id = ctx.ingress.request_id;
  snapshot.services.writer->submit(std::move(r));
}

}  // namespace gatehouse::admin
