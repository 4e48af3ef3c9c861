// Reading the tariff ledger: by sequence, by commissioner, and a commissioner's month as CSV.
#include "projections/tariff/queries.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "care/tariff.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "projections/tariff/tariff.h"

namespace pbr::reporting::tariff {
namespace {

absl::StatusOr<pbr::v1::TariffActivity> ParseLine(absl::string_view key, absl::string_view value) {
  pbr::v1::TariffActivity line;
  if (!line.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("stored tariff line ", platform::DecodeOrderedU64(key), " is unreadable"));
  }
  return line;
}

absl::StatusOr<pbr::v1::TariffActivity> LineAt(const platform::StoreReader& store, uint64_t sequence) {
  const std::string key = platform::EncodeOrderedU64(sequence);
  auto stored = store.Get(kTariffLinesFamily, key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return absl::DataLossError(absl::StrCat("tariff line ", sequence, " is indexed but not stored"));
  }
  return ParseLine(key, **stored);
}

// The sequence at the end of an index key (its last 8 bytes).
uint64_t SequenceOf(absl::string_view index_key) {
  return platform::DecodeOrderedU64(index_key.substr(index_key.size() - 8));
}

std::string Field(absl::string_view raw) {
  // Text a spreadsheet would run as a formula is kept as text.
  std::string guarded;
  if (!raw.empty() && (raw[0] == '=' || raw[0] == '+' || raw[0] == '-' || raw[0] == '@')) guarded = absl::StrCat("'", raw);
  const absl::string_view text = guarded.empty() ? raw : absl::string_view(guarded);
  if (!absl::StrContains(text, ',') && !absl::StrContains(text, '"') && !absl::StrContains(text, '\n') &&
      !absl::StrContains(text, '\r')) {
    return std::string(text);
  }
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

absl::string_view KindName(pbr::v1::TariffLineKind kind) {
  switch (kind) {
    case pbr::v1::TARIFF_LINE_ORIGINAL: return "original";
    case pbr::v1::TARIFF_LINE_REVERSAL: return "reversal";
    case pbr::v1::TARIFF_LINE_RESTATEMENT: return "restatement";
    default: return "unspecified";
  }
}

}  // namespace

absl::StatusOr<std::vector<pbr::v1::TariffActivity>> LinesAfter(const platform::StoreReader& store,
                                                                uint64_t after_sequence,
                                                                absl::string_view commissioner_id, size_t limit) {
  std::vector<pbr::v1::TariffActivity> out;
  if (limit == 0 || after_sequence == UINT64_MAX) return out;
  absl::Status problem;
  if (commissioner_id.empty()) {
    auto st = store.ScanFrom(kTariffLinesFamily, platform::EncodeOrderedU64(after_sequence + 1),
                             [&](absl::string_view key, absl::string_view value) {
                               auto line = ParseLine(key, value);
                               if (!line.ok()) {
                                 problem = line.status();
                                 return false;
                               }
                               out.push_back(*std::move(line));
                               return out.size() < limit;
                             });
    if (!st.ok()) return st;
    if (!problem.ok()) return problem;
    return out;
  }
  const std::string prefix = CommissionerPrefix(commissioner_id);
  std::vector<uint64_t> sequences;
  auto st = store.ScanFrom(kTariffByCommissionerFamily, CommissionerKey(commissioner_id, after_sequence + 1),
                           [&](absl::string_view key, absl::string_view) {
                             if (!absl::StartsWith(key, prefix) || key.size() != prefix.size() + 8) return false;
                             sequences.push_back(SequenceOf(key));
                             return sequences.size() < limit;
                           });
  if (!st.ok()) return st;
  for (uint64_t s : sequences) {
    auto line = LineAt(store, s);
    if (!line.ok()) return line.status();
    out.push_back(*std::move(line));
  }
  return out;
}

std::string CsvHeader() {
  return "sequence,issued_at,kind,month,commissioner_id,team_id,cluster,person_id,days,review_periods_started,"
         "basis,unit_price,amount,priced,gap,price_list_version,rule_version,reverses_sequence,cause,"
         "cause_event_id\r\n";
}

std::string CsvRow(const pbr::v1::TariffActivity& l) {
  return absl::StrCat(
      l.sequence(), ",", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", platform::FromProto(l.issued_at()), absl::UTCTimeZone()),
      ",", KindName(l.kind()), ",", absl::StrFormat("%04d-%02d", l.year(), l.month()), ",", Field(l.commissioner_id()),
      ",", Field(l.team_id()), ",", l.cluster(), ",", Field(l.person_id()), ",", l.days(), ",",
      l.review_periods_started(), ",", l.basis(), ",", l.priced() ? care::FormatPence(l.unit_price_pence()) : "", ",",
      l.priced() ? care::FormatPence(l.amount_pence()) : "", ",", l.priced() ? "yes" : "no", ",", Field(l.gap()), ",",
      Field(l.price_list_version()), ",", Field(l.rule_version()), ",",
      l.reverses_sequence() == 0 ? std::string() : absl::StrCat(l.reverses_sequence()), ",", Field(l.cause()), ",",
      Field(l.cause_event_id()), "\r\n");
}

absl::StatusOr<bool> MonthClosed(const platform::StoreReader& store, int yyyymm) {
  auto meta = LoadMeta(store);
  if (!meta.ok()) return meta.status();
  return yyyymm <= meta->closed_through();
}

absl::StatusOr<pbr::v1::TariffExportTotals> ExportMonth(const platform::StoreReader& store,
                                                         absl::string_view commissioner_id, int yyyymm,
                                                         const std::function<bool(std::string chunk)>& write,
                                                         size_t chunk_bytes) {
  pbr::v1::TariffExportTotals totals;
  std::string chunk = CsvHeader();
  const std::string prefix = MonthPrefix(commissioner_id, yyyymm);
  absl::Status problem;
  auto st = store.Scan(kTariffMonthsFamily, prefix, [&](absl::string_view key, absl::string_view) {
    if (key.size() != prefix.size() + 8) return true;  // not this commissioner's (cannot happen: ids hold no NUL)
    auto line = LineAt(store, SequenceOf(key));
    if (!line.ok()) {
      problem = line.status();
      return false;
    }
    totals.set_lines(totals.lines() + 1);
    totals.set_days(totals.days() + line->days());
    totals.set_review_periods_started(totals.review_periods_started() + line->review_periods_started());
    if (line->priced()) {
      totals.set_amount_pence(totals.amount_pence() + line->amount_pence());
    } else {
      totals.set_unpriced_lines(totals.unpriced_lines() + 1);
      totals.set_unpriced_days(totals.unpriced_days() + line->days());
    }
    totals.set_last_sequence(std::max(totals.last_sequence(), line->sequence()));
    totals.set_ledger_id(line->ledger_id());
    chunk += CsvRow(*line);
    if (chunk.size() >= chunk_bytes) {
      if (!write(std::move(chunk))) {
        problem = absl::CancelledError("the export's reader went away");
        return false;
      }
      chunk.clear();
    }
    return true;
  });
  if (!st.ok()) return st;
  if (!problem.ok()) return problem;
  if (!write(std::move(chunk))) return absl::CancelledError("the export's reader went away");
  return totals;
}

}  // namespace pbr::reporting::tariff
