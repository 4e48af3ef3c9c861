#pragma once
// What finance reads from the tariff ledger: lines in sequence order after a cursor (the stream), and one
// commissioner's closed month as CSV (the export). Lines are never edited, so a line read is read for good.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pbr/v1/events.pb.h"
#include "pbr/v1/finance.pb.h"
#include "platform/store.h"

namespace pbr::reporting::tariff {

// At most `limit` lines after `after_sequence`, in sequence order; only `commissioner_id`'s when not empty.
absl::StatusOr<std::vector<pbr::v1::TariffActivity>> LinesAfter(const platform::StoreReader& store,
                                                                uint64_t after_sequence,
                                                                absl::string_view commissioner_id, size_t limit);

// The export's columns (rules/README.md "Tariff export"): the header row, and one line's row. Money is in
// pounds with two decimals; text is quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string CsvHeader();
std::string CsvRow(const pbr::v1::TariffActivity& line);

// Whether month `yyyymm` is closed (its lines issued), and when it closes if not.
absl::StatusOr<bool> MonthClosed(const platform::StoreReader& store, int yyyymm);

// A commissioner's lines for a month, in sequence order, as CSV: the header, then a row per line, handed to
// `write` in chunks of about `chunk_bytes` (false from `write` stops: CANCELLED). The totals sum every line.
absl::StatusOr<pbr::v1::TariffExportTotals> ExportMonth(const platform::StoreReader& store,
                                                         absl::string_view commissioner_id, int yyyymm,
                                                         const std::function<bool(std::string chunk)>& write,
                                                         size_t chunk_bytes = 64 << 10);

}  // namespace pbr::reporting::tariff
