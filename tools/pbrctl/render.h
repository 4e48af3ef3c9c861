// pbrctl's input and output formats: protobuf JSON in and out, and the human-readable tables.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <google/protobuf/repeated_field.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pbr/v1/allocation.pb.h"
#include "pbr/v1/finance.pb.h"
#include "pbr/v1/outcomes.pb.h"
#include "pbr/v1/reporting.pb.h"
#include "pbr/v1/review_scheduler.pb.h"

namespace pbr::cli {

// A RecordAssessmentRequest in the protobuf JSON mapping: field names in either "sourceSystem" or
// "source_system" form, assessedAt as an RFC 3339 string, reason as the enum name. Unknown fields are
// errors, so a misspelt field is reported rather than silently dropped. InvalidArgument says what is wrong.
absl::StatusOr<pbr::v1::RecordAssessmentRequest> ParseAssessmentJson(const std::string& text);

// A RecordCareEventRequest in JSON, read the same way; type as the enum name (CARE_EVENT_REFERRAL_TO_CRHT).
absl::StatusOr<pbr::v1::RecordCareEventRequest> ParseCareEventJson(const std::string& text);

// What `pbrctl suggest` reads: either bare ratings (an MhctRatings: {"items": [...], "item8ProblemType": ...})
// or a whole RecordAssessmentRequest, of which only the ratings are used. The form is told by the top-level
// fields: "items" or an item 8 field means MhctRatings, anything else a RecordAssessmentRequest.
struct SuggestInput {
  pbr::v1::MhctRatings ratings;
  bool from_assessment = false;  // the ratings came out of a RecordAssessmentRequest
};
absl::StatusOr<SuggestInput> ParseSuggestInput(const std::string& text);

// Pretty-printed JSON that shows every field, zero values included (so "duplicate": false is visible).
std::string ToJson(const google::protobuf::Message& message);

// The next review (state, dates, basis, rules, review policy, service area), then the person's
// event-triggered reviews: kind in words, care event time, window, outcome, the assessment that met it.
std::string RenderSchedule(const pbr::v1::Schedule& schedule);
// "out-of-hours referral (KPI 10)"; the KPI from the rules library.
std::string TriggerKindName(pbr::v1::ReviewTriggerKind kind);
// Overdue reviews, oldest due date first: person, team, cluster, due date, days overdue.
std::string RenderOverdue(const pbr::v1::ListOverdueReply& reply);
// Reviews due from `from` to `to` (as the user gave them), earliest first, with each one's state today.
std::string RenderDue(const pbr::v1::ListDueReply& reply, const std::string& from, const std::string& to);
// Overdue counts per team and cluster, the total, the day they hold for and the oldest due date.
std::string RenderOverdueCount(const pbr::v1::CountOverdueReply& reply);
std::string RenderOutcomes(const pbr::v1::PersonOutcomes& outcomes);
std::string RenderOutcomesSummary(const pbr::v1::OutcomesSummary& summary);
// A caseload profile: per cluster its super class and indicative period, people, reviews due and
// overdue, mean latest HoNOS, mean days in the cluster, how many are beyond its indicative period and
// how many were seen in the last 90 days, and a totals row; the super classes; the clustering quality
// (the team's and each clinician's, or the care co-ordinator's); then the cases to discuss with their
// reasons, or with `with_persons` every person.
std::string RenderCaseload(const pbr::v1::Caseload& caseload, bool with_persons);
// KPIs 1-13: the scope and the days counted, then one row per KPI: numerator, denominator, percentage
// ("-" with no denominator), target and whether it is met; then what each denominator counts.
std::string RenderKpis(const pbr::v1::KpiReport& report);
// ACC33, ACC36 and ACC37 per cluster and for all clusters, with the scope, the period end and the review
// periods' version; a suppressed figure (publication rounding) reads "*".
std::string RenderNationalMeasures(const pbr::v1::NationalMeasures& measures);

using RuleChecks = google::protobuf::RepeatedPtrField<pbr::v1::RuleCheck>;
using Suggestions = google::protobuf::RepeatedPtrField<pbr::v1::ClusterSuggestion>;

// One line per check: "✓ red-rules: <reason>", "✗ transition-protocol: <reason> (expected clusters: 4, 5)";
// a pass that is only "rarely" appropriate reads "✓ service-area (flagged): ...". "none" when empty.
std::string RenderRuleChecks(const RuleChecks& checks);
// Suggestions as the server ranked them: cluster, fit %, excluded, explanation. At most `max_ranked` of the
// ranked (not excluded) ones; the excluded ones (and the "excluded" column) only when `with_excluded`.
std::string RenderSuggestions(const Suggestions& suggestions, size_t max_ranked, bool with_excluded);
// Record and amend replies (`verb` "recorded" or "amended"): ids, then the rule checks and the top three
// suggestions.
std::string RenderRecordReply(const pbr::v1::RecordAssessmentReply& reply, absl::string_view verb);
std::string RenderWithdrawReply(const pbr::v1::WithdrawAssessmentReply& reply);
std::string RenderCareEventReply(const pbr::v1::RecordCareEventReply& reply);
// Every suggestion; the example-profiles warning is separate (ExampleProfilesWarning) so it can go to stderr.
std::string RenderSuggestReply(const pbr::v1::SuggestClustersReply& reply);
std::string ExampleProfilesWarning();
std::string RenderPerson(const pbr::v1::Person& person);
// One page (or, with --all, every page) of a person's history, newest first as the server sends it.
std::string RenderAssessments(const std::string& person_id, const pbr::v1::ListAssessmentsReply& reply);
// `who` is "person <pseudonym>" or "caller <subject>".
std::string RenderAudit(const std::string& who, const pbr::v1::ListAuditReply& reply);
std::string RenderEpisodes(const std::string& person_id, const pbr::v1::ListEpisodesReply& reply);

// A plain text table with aligned columns; numeric columns are right-aligned. Widths count UTF-8 characters,
// so cells with ✓ or ✗ line up.
class Table {
 public:
  Table(std::vector<std::string> header, std::vector<bool> right_aligned);
  void AddRow(std::vector<std::string> cells);
  void AddSeparator();  // a dashed line, e.g. before a totals row
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_aligned_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a separator
};

// What a tariff export came to: lines, net days and amount, and the gaps (lines without a price).
std::string RenderTariffTotals(const pbr::v1::TariffExportTotals& totals, const std::string& commissioner,
                               const std::string& month, const std::string& file);

}  // namespace pbr::cli
