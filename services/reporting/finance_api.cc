#include "finance_api.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "field_rules.h"
#include "platform/service_host.h"
#include "projections/tariff/activity.h"
#include "projections/tariff/queries.h"
#include "projections/tariff/tariff.h"

namespace pbr::reporting {

absl::Status FinanceApi::CheckStreamRequest(const pbr::v1::StreamTariffActivityRequest& request) {
  services::Problems p;
  p.Identifier("commissioner_id", request.commissioner_id(), services::Need::kOptional);
  p.Identifier("ledger_id", request.ledger_id(), services::Need::kOptional);
  return p.Result();
}

absl::Status FinanceApi::CheckExportRequest(const pbr::v1::ExportTariffRequest& request) const {
  services::Problems p;
  p.Identifier("commissioner_id", request.commissioner_id(), services::Need::kRequired);
  if (request.year() < 2000 || request.year() > 2199) p.Add("year", absl::StrCat(request.year(), " is not in 2000-2199"));
  if (request.month() < 1 || request.month() > 12) p.Add("month", absl::StrCat(request.month(), " is not in 1-12"));
  if (!p.ok()) return p.Result();
  const int yyyymm = request.year() * 100 + request.month();
  auto closed = tariff::MonthClosed(store_, yyyymm);
  if (!closed.ok()) return closed.status();
  if (!*closed) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "month: %04d-%02d is not closed yet: its lines are issued when it closes", request.year(), request.month()));
  }
  return absl::OkStatus();
}

grpc::Status FinanceApi::StreamTariffActivity(grpc::ServerContext* context,
                                              const pbr::v1::StreamTariffActivityRequest* request,
                                              grpc::ServerWriter<pbr::v1::TariffActivity>* writer) {
  if (auto st = CheckStreamRequest(*request); !st.ok()) return platform::ToGrpc(st);
  auto meta = tariff::LoadMeta(store_);
  if (!meta.ok()) return platform::ToGrpc(meta.status());
  if (!request->ledger_id().empty() && request->ledger_id() != meta->ledger_id()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("ledger_id: ", request->ledger_id(), " is not this reporting's tariff ledger (",
                                     meta->ledger_id().empty() ? "none issued yet" : meta->ledger_id(),
                                     "): it was rebuilt; read it again from sequence 0"));
  }
  if (request->after_sequence() > meta->last_sequence()) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        absl::StrCat("after_sequence: ", request->after_sequence(), " is after the last line issued (",
                                     meta->last_sequence(), "): the cursor is from another ledger"));
  }
  if (open_streams_.fetch_add(1) >= kMaxStreams) {
    open_streams_.fetch_sub(1);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat(kMaxStreams, " tariff streams are open already: try again later"));
  }
  struct Close {
    std::atomic<int>& n;
    ~Close() { n.fetch_sub(1); }
  } close{open_streams_};
  uint64_t cursor = request->after_sequence();
  while (true) {
    if (context->IsCancelled()) return grpc::Status::OK;
    auto lines = tariff::LinesAfter(store_, cursor, request->commissioner_id(), kLinesPerRead);
    if (!lines.ok()) return platform::ToGrpc(lines.status());
    for (const auto& line : *lines) {
      if (stopping_.is_set()) break;  // a long backlog does not hold the service's shutdown
      if (!writer->Write(line)) return grpc::Status::OK;  // the caller went away
      cursor = line.sequence();
    }
    if (lines->size() == kLinesPerRead) continue;  // more waiting
    if (stopping_.WaitFor(poll_)) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("reporting is stopping: resume after sequence ", cursor));
    }
  }
}

grpc::Status FinanceApi::ExportTariff(grpc::ServerContext* context, const pbr::v1::ExportTariffRequest* request,
                                      grpc::ServerWriter<pbr::v1::TariffExportChunk>* writer) {
  if (auto st = CheckExportRequest(*request); !st.ok()) return platform::ToGrpc(st);
  auto totals = tariff::ExportMonth(store_, request->commissioner_id(), request->year() * 100 + request->month(),
                                    [&](std::string csv) {
                                      if (context->IsCancelled()) return false;
                                      pbr::v1::TariffExportChunk chunk;
                                      chunk.set_csv(std::move(csv));
                                      return writer->Write(chunk);
                                    });
  if (!totals.ok()) return platform::ToGrpc(totals.status());
  pbr::v1::TariffExportChunk last;
  *last.mutable_totals() = *totals;
  if (!writer->Write(last)) return grpc::Status(grpc::StatusCode::CANCELLED, "the export's reader went away");
  return grpc::Status::OK;
}

}  // namespace pbr::reporting
