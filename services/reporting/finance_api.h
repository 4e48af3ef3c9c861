#pragma once
// Reporting's Finance handlers: each checks its request (errors name the field), reads the tariff ledger's
// queries (projections/tariff/queries.h) and answers. No tariff logic lives here.
#include <atomic>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "pbr/v1/finance.grpc.pb.h"
#include "platform/stop_signal.h"
#include "platform/store.h"

namespace pbr::reporting {

class FinanceApi final : public pbr::v1::Finance::Service {
 public:
  // Streams open at once at most (each holds a server thread while it waits for new lines).
  static constexpr int kMaxStreams = 32;
  // Lines read from the store per look.
  static constexpr size_t kLinesPerRead = 500;

  // `stopping` ends open streams when the service stops; `poll` is how often a caught-up stream looks for
  // new lines.
  FinanceApi(const platform::StoreReader& store, const platform::StopSignal& stopping,
             absl::Duration poll = absl::Milliseconds(200))
      : store_(store), stopping_(stopping), poll_(poll) {}

  // INVALID_ARGUMENT naming commissioner_id (or ledger_id) when given and not an identifier.
  static absl::Status CheckStreamRequest(const pbr::v1::StreamTariffActivityRequest& request);
  // INVALID_ARGUMENT naming the field: commissioner_id missing or not an identifier, year outside 2000-2199,
  // month outside 1-12. FAILED_PRECONDITION naming month: the month is not closed yet (no lines issued).
  absl::Status CheckExportRequest(const pbr::v1::ExportTariffRequest& request) const;

  // Every line after the cursor, then new ones as issued, until the caller cancels (OK) or the service stops
  // (UNAVAILABLE: resume from the last sequence received). RESOURCE_EXHAUSTED beyond kMaxStreams;
  // FAILED_PRECONDITION naming ledger_id for another ledger's id; OUT_OF_RANGE naming after_sequence for a cursor
  // after the last line issued.
  grpc::Status StreamTariffActivity(grpc::ServerContext* context, const pbr::v1::StreamTariffActivityRequest* request,
                                    grpc::ServerWriter<pbr::v1::TariffActivity>* writer) override;
  grpc::Status ExportTariff(grpc::ServerContext* context, const pbr::v1::ExportTariffRequest* request,
                            grpc::ServerWriter<pbr::v1::TariffExportChunk>* writer) override;

 private:
  const platform::StoreReader& store_;
  const platform::StopSignal& stopping_;
  const absl::Duration poll_;
  std::atomic<int> open_streams_{0};
};

}  // namespace pbr::reporting
