#include "render.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "care/review_triggers.h"
#include "care/tariff.h"

namespace pbr::cli {
namespace {

std::string FormatDate(const pbr::v1::CivilDate& d) {
  if (d.year() == 0) return "-";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone());
}

// "REVIEW_STATE_OVERDUE" -> "overdue".
std::string StateName(pbr::v1::ReviewState state) {
  std::string name = pbr::v1::ReviewState_Name(state);
  if (name.empty()) return absl::StrCat("state ", static_cast<int>(state));
  return absl::AsciiStrToLower(absl::StripPrefix(name, "REVIEW_STATE_"));
}

// "TRIGGER_OUTCOME_MET" -> "met".
std::string OutcomeName(pbr::v1::TriggerOutcome outcome) {
  std::string name = pbr::v1::TriggerOutcome_Name(outcome);
  if (name.empty()) return absl::StrCat("outcome ", static_cast<int>(outcome));
  return absl::AsciiStrToLower(absl::StripPrefix(name, "TRIGGER_OUTCOME_"));
}

// Whose review periods the scheduler applies (its review-policy setting).
std::string PolicyName(const std::string& policy) {
  if (policy == "sop") return "sop (the trust SOP's review periods)";
  if (policy == "national") return "national (the national review periods)";
  return policy.empty() ? "-" : policy;
}

// A listing's title says when it is only part of the answer.
std::string MoreFollow(const std::string& next_page_token) {
  return next_page_token.empty() ? "" : " (more on the next page)";
}

std::string Mean(double value, int count) { return count > 0 ? absl::StrFormat("%.1f", value) : "-"; }

// "ASSESSMENT_REASON_FORMAL_REVIEW" -> "formal review".
std::string ReasonName(pbr::v1::AssessmentReason reason) {
  std::string name = pbr::v1::AssessmentReason_Name(reason);
  if (name.empty()) return absl::StrCat("reason ", static_cast<int>(reason));
  return absl::StrReplaceAll(absl::AsciiStrToLower(absl::StripPrefix(name, "ASSESSMENT_REASON_")), {{"_", " "}});
}

std::string YesNo(bool value) { return value ? "yes" : "no"; }

// Strict protobuf JSON: unknown fields are errors, so a misspelt field is reported rather than dropped.
absl::Status ParseJson(const std::string& text, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(text, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a valid ", message->GetDescriptor()->name(), " in JSON: ",
                                                   status.message().ToString()));
  }
  return absl::OkStatus();
}

std::string Indent(const std::string& text, absl::string_view prefix = "  ") {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) absl::StrAppend(&out, prefix, line, "\n");
  return out;
}

// Characters, not bytes, in UTF-8 text: continuation bytes (10xxxxxx) do not start a character.
size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

// The checks column of the history: failed rules by name, else a tick.
std::string ChecksSummary(const RuleChecks& checks) {
  if (checks.empty()) return "-";
  std::vector<std::string> failed, flagged;
  for (const auto& c : checks) {
    if (!c.passed()) failed.push_back(absl::StrCat("✗ ", c.rule()));
    if (c.passed() && c.flagged()) flagged.push_back(absl::StrCat(c.rule(), " flagged"));
  }
  if (!failed.empty()) return absl::StrJoin(failed, ", ");
  return flagged.empty() ? "✓" : absl::StrCat("✓ (", absl::StrJoin(flagged, ", "), ")");
}

}  // namespace

absl::StatusOr<pbr::v1::RecordAssessmentRequest> ParseAssessmentJson(const std::string& text) {
  pbr::v1::RecordAssessmentRequest request;
  if (auto st = ParseJson(text, &request); !st.ok()) return st;
  return request;
}

absl::StatusOr<pbr::v1::RecordCareEventRequest> ParseCareEventJson(const std::string& text) {
  pbr::v1::RecordCareEventRequest request;
  if (auto st = ParseJson(text, &request); !st.ok()) return st;
  return request;
}

absl::StatusOr<SuggestInput> ParseSuggestInput(const std::string& text) {
  // Any JSON object parses as a Struct: look at its top-level fields, then parse strictly in that form so
  // the error (a misspelt field, a bad value) is about the form the user meant.
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(text, &object).ok()) {
    return absl::InvalidArgumentError(
        "not a JSON object: expected MhctRatings ({\"items\": [...]}) or a RecordAssessmentRequest");
  }
  bool bare_ratings = false;
  for (const char* field : {"items", "item8ProblemType", "item8_problem_type", "item8OtherText", "item8_other_text"}) {
    bare_ratings = bare_ratings || object.fields().count(field) > 0;
  }
  SuggestInput input;
  if (bare_ratings) {
    if (auto st = ParseJson(text, &input.ratings); !st.ok()) return st;
    return input;
  }
  pbr::v1::RecordAssessmentRequest request;
  if (auto st = ParseJson(text, &request); !st.ok()) {
    if (object.fields().count("ratings") > 0) return st;
    // Neither form's key fields: say both forms rather than only the one tried.
    return absl::InvalidArgumentError(absl::StrCat(
        "expected MhctRatings ({\"items\": [...]}) or a RecordAssessmentRequest with \"ratings\"; as the latter: ",
        st.message()));
  }
  if (!request.has_ratings()) {
    return absl::InvalidArgumentError(
        "no ratings: expected MhctRatings ({\"items\": [...]}) or a RecordAssessmentRequest with \"ratings\"");
  }
  input.ratings = request.ratings();
  input.from_assessment = true;
  return input;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  // Proto3 JSON would drop zeros and false: cluster 0 is a real cluster and "people": 0 is an answer,
  // so every primitive field is printed (protobuf 3.21's name for it; newer ones call it
  // always_print_fields_with_no_presence). Unset messages (a date not yet known) stay absent.
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  // Printing a well-formed message only fails on broken UTF-8 from the server: show what we can.
  if (!status.ok()) return absl::StrCat("{\"error\": \"", status.message().ToString(), "\"}\n");
  return out;
}

std::string TriggerKindName(pbr::v1::ReviewTriggerKind kind) {
  std::string words;
  std::optional<care::ReviewTriggerKind> rule;
  switch (kind) {
    case pbr::v1::REVIEW_TRIGGER_IN_HOURS_REFERRAL:
      words = "in-hours referral";
      rule = care::ReviewTriggerKind::kInHoursReferral;
      break;
    case pbr::v1::REVIEW_TRIGGER_OUT_OF_HOURS_REFERRAL:
      words = "out-of-hours referral";
      rule = care::ReviewTriggerKind::kOutOfHoursReferral;
      break;
    case pbr::v1::REVIEW_TRIGGER_DISCHARGE_REVIEW:
      words = "discharge review";
      rule = care::ReviewTriggerKind::kDischargeReview;
      break;
    case pbr::v1::REVIEW_TRIGGER_INPATIENT_ADMISSION:
      words = "inpatient admission, not yet allocated";
      rule = care::ReviewTriggerKind::kInpatientAdmission;
      break;
    default:
      return absl::StrCat("trigger ", static_cast<int>(kind));  // a newer server's kind
  }
  // The rules library names the KPI "KPI10"; spaced for reading.
  std::string_view kpi = care::ReviewTriggerKpi(*rule);
  if (kpi.starts_with("KPI")) kpi.remove_prefix(3);
  return absl::StrCat(words, " (KPI ", std::string(kpi), ")");
}

std::string RenderSchedule(const pbr::v1::Schedule& s) {
  Table t({"", ""}, {false, false});
  t.AddRow({"person", s.person_id()});
  t.AddRow({"team", s.team_id()});
  t.AddRow({"service area", s.service_area().empty() ? "-" : s.service_area()});
  t.AddRow({"cluster", absl::StrCat(s.cluster())});
  t.AddRow({"review", StateName(s.state())});
  t.AddRow({"latest MHCT", FormatDate(s.latest_mhct_date())});
  t.AddRow({"window opens", FormatDate(s.window_opens())});
  t.AddRow({"due", absl::StrCat(FormatDate(s.due_date()), " (on time that day, overdue from the next)")});
  t.AddRow({"basis", absl::StrCat(s.basis_assessment_id(), " (assessed ", FormatTimestamp(s.basis_assessed_at()),
                                  " UTC)")});
  t.AddRow({"review policy", PolicyName(s.review_policy())});
  t.AddRow({"rules", s.rule_version()});
  std::string out = t.Render();
  if (s.triggers().empty()) return absl::StrCat(out, "\nevent-triggered reviews: none\n");
  Table triggers({"kind", "care event (UTC)", "window (UTC)", "outcome", "met by"},
                 {false, false, false, false, false});
  for (const auto& g : s.triggers()) {
    triggers.AddRow({TriggerKindName(g.kind()), FormatTimestamp(g.occurred_at()),
                     absl::StrCat(FormatTimestamp(g.window_opens()), " to ", FormatTimestamp(g.deadline())),
                     OutcomeName(g.outcome()), g.met_by_assessment_id().empty() ? "-" : g.met_by_assessment_id()});
  }
  absl::StrAppend(&out, "\nevent-triggered reviews, oldest first:\n", Indent(triggers.Render()));
  return out;
}

std::string RenderOverdue(const pbr::v1::ListOverdueReply& r) {
  std::string out = absl::StrFormat("%d review(s) overdue on %s, oldest due date first%s\n", r.reviews_size(),
                                    FormatDate(r.as_of()), MoreFollow(r.next_page_token()));
  if (r.reviews().empty()) return out;
  Table t({"person", "team", "cluster", "due", "days overdue"}, {false, false, true, false, true});
  for (const auto& v : r.reviews()) {
    t.AddRow({v.person_id(), v.team_id(), absl::StrCat(v.cluster()), FormatDate(v.due_date()),
              absl::StrCat(v.days_overdue())});
  }
  return absl::StrCat(out, "\n", t.Render());
}

std::string RenderDue(const pbr::v1::ListDueReply& r, const std::string& from, const std::string& to) {
  std::string out = absl::StrFormat("%d review(s) due from %s to %s, earliest first%s\n", r.reviews_size(), from, to,
                                    MoreFollow(r.next_page_token()));
  if (r.reviews().empty()) return out;
  Table t({"person", "team", "cluster", "window opens", "due", "review today"}, {false, false, true, false, false, false});
  for (const auto& v : r.reviews()) {
    const std::string state = v.state() == pbr::v1::REVIEW_STATE_OVERDUE
                                  ? absl::StrFormat("overdue (%d day(s))", v.days_overdue())
                                  : StateName(v.state());
    t.AddRow({v.person_id(), v.team_id(), absl::StrCat(v.cluster()), FormatDate(v.window_opens()),
              FormatDate(v.due_date()), state});
  }
  return absl::StrCat(out, "\n", t.Render());
}

std::string RenderOverdueCount(const pbr::v1::CountOverdueReply& r) {
  // as_of is the day of the scheduler's last timer pass; none before its first.
  const std::string day = r.has_as_of() ? absl::StrCat("on ", FormatDate(r.as_of()))
                                        : "(the scheduler has made no timer pass yet)";
  std::string out = absl::StrFormat("%d review(s) overdue %s", r.total(), day);
  if (r.has_oldest_due_date()) absl::StrAppend(&out, ", the oldest due ", FormatDate(r.oldest_due_date()));
  absl::StrAppend(&out, "\n");
  if (r.counts().empty()) return out;
  Table t({"team", "cluster", "overdue"}, {false, true, true});
  for (const auto& c : r.counts()) t.AddRow({c.team_id(), absl::StrCat(c.cluster()), absl::StrCat(c.overdue())});
  t.AddSeparator();
  t.AddRow({"total", "", absl::StrCat(r.total())});
  return absl::StrCat(out, "\n", t.Render());
}

namespace {
std::string ReliableChangeText(pbr::v1::ReliableChange c) {
  switch (c) {
    case pbr::v1::RELIABLE_CHANGE_IMPROVED: return "improved";
    case pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE: return "no reliable change";
    case pbr::v1::RELIABLE_CHANGE_DETERIORATED: return "deteriorated";
    default: return "-";
  }
}
std::string ExpectedText(pbr::v1::ExpectedOutcomeMatch m) {
  switch (m) {
    case pbr::v1::EXPECTED_OUTCOME_MATCHES: return "matches";
    case pbr::v1::EXPECTED_OUTCOME_DOES_NOT_MATCH: return "does not match";
    case pbr::v1::EXPECTED_OUTCOME_NO_PATTERN: return "no pattern";
    default: return "-";
  }
}
std::string ChangeText(const pbr::v1::RatingChange& c) {
  return absl::StrFormat("%+d %s", c.total_change(), ReliableChangeText(c.reliable_change()));
}
std::string Share(double share, int64_t of) { return of > 0 ? absl::StrFormat("%.0f%%", 100 * share) : "-"; }
}  // namespace

std::string RenderOutcomes(const pbr::v1::PersonOutcomes& o) {
  std::string out = absl::StrFormat("person %s: %d assessment(s), %d episode(s); rules %s\n\n", o.person_id(),
                                    o.outcomes_size(), o.episodes_size(), o.rule_version());
  Table t({"assessed (UTC)", "cluster", "HoNOS", "P/E/S/D", "needs", "since first", "since previous", "assessment"},
          {false, true, true, false, false, false, false, false});
  for (const auto& e : o.outcomes()) {
    std::vector<std::string> factors;
    for (const auto& f : e.factors()) factors.push_back(absl::StrCat(f.score()));
    std::vector<std::string> needs;
    for (const auto& n : e.care_plan_needs()) needs.push_back(absl::StrCat(n.item(), n.problem_type()));
    std::string honos = e.total_valid() ? absl::StrCat(e.honos_total()) : "n/a";
    if (e.missing_items() > 0) absl::StrAppend(&honos, " (", e.missing_items(), " missing)");
    t.AddRow({FormatTimestamp(e.assessed_at()), absl::StrCat(e.cluster()), honos, absl::StrJoin(factors, "/"),
              needs.empty() ? "-" : absl::StrJoin(needs, ","),
              e.has_since_first() ? ChangeText(e.since_first()) : "-",
              e.has_since_previous() ? ChangeText(e.since_previous()) : "-", e.assessment_id()});
  }
  absl::StrAppend(&out, t.Render());
  if (o.outcomes_size() > 0) {
    absl::StrAppendFormat(&out, "P/E/S/D: personal, emotional, social well-being, severe disturbance; "
                                "needs: items rated 2-4; missing-item policy %s\n",
                          o.outcomes(0).missing_item_policy());
  }
  if (o.episodes_size() == 0) return out;
  Table ep({"referral opened", "closed", "ratings", "valid", "pair (first to last)", "expected", "counted under"},
           {false, false, true, true, false, false, false});
  for (const auto& e : o.episodes()) {
    ep.AddRow({FormatTimestamp(e.opened_at()), e.has_closed_at() ? FormatTimestamp(e.closed_at()) : "open",
               absl::StrCat(e.ratings()), absl::StrCat(e.valid_ratings()),
               e.paired() ? ChangeText(e.change()) : "no pair", e.paired() ? ExpectedText(e.change().expected()) : "-",
               e.first_assessment_id().empty()
                   ? "-"
                   : absl::StrCat(e.team_id(), " / cluster ", e.cluster(), " / ", e.commissioner_id(), " on ",
                                  FormatDate(e.counted_on()))});
  }
  absl::StrAppend(&out, "\n", ep.Render());
  return out;
}

std::string RenderOutcomesSummary(const pbr::v1::OutcomesSummary& s) {
  std::string period = "all time";
  if (s.has_period_start() || s.has_period_end()) {
    period = absl::StrCat(s.has_period_start() ? FormatDate(s.period_start()) : "the start", " to ",
                          s.has_period_end() ? FormatDate(s.period_end()) : "now");
  }
  std::string out = absl::StrFormat("outcomes by %s, last valid rating %s; rules %s\n\n",
                                    absl::AsciiStrToLower(absl::StripPrefix(
                                        pbr::v1::OutcomeGrouping_Name(s.group_by()), "OUTCOME_GROUPING_")),
                                    period, s.rule_version());
  // A replica of a consumer group counts its partitions only: say which, so a partial is never read as the whole.
  if (s.share().assigned()) {
    out.insert(out.size() - 2, absl::StrCat("; partitions ", s.share().partitions().empty()
                                                                 ? "none (its group is reassigning them)"
                                                                 : absl::StrJoin(s.share().partitions(), " ")));
  }
  std::vector<std::string> head = {"group", "episodes", "paired", "mean change"};
  std::vector<bool> right = {false, true, true, true};
  for (const auto& f : s.all().factors()) {
    head.push_back(f.id().substr(0, f.id().find('_')));
    right.push_back(true);
  }
  for (const char* h : {"improved", "no change", "deteriorated", "as expected"}) {
    head.push_back(h);
    right.push_back(true);
  }
  Table t(head, right);
  auto row = [&](const pbr::v1::OutcomeGroupSummary& g, const std::string& name) {
    std::vector<std::string> cells = {name, absl::StrCat(g.episodes()), absl::StrCat(g.paired_episodes()),
                                      g.paired_episodes() > 0 ? absl::StrFormat("%+.1f", g.mean_total_change()) : "-"};
    for (const auto& f : g.factors()) {
      cells.push_back(f.episodes() > 0 ? absl::StrFormat("%+.1f", f.mean_change()) : "-");
    }
    cells.push_back(Share(g.share_improved(), g.paired_episodes()));
    cells.push_back(Share(g.share_no_reliable_change(), g.paired_episodes()));
    cells.push_back(Share(g.share_deteriorated(), g.paired_episodes()));
    cells.push_back(Share(g.share_matching_expected(), g.with_expected_pattern()));
    t.AddRow(cells);
  };
  for (const auto& g : s.groups()) row(g, g.group());
  t.AddSeparator();
  row(s.all(), "all");
  absl::StrAppend(&out, t.Render(),
                  "An episode is a referral period; it pairs its first and last valid HoNOS (a later day). Changes "
                  "are last minus first: negative is fewer problems.\n");
  return out;
}

namespace {

// "DISCUSS_NO_RECENT_CONTACT" -> "no recent contact".
std::string DiscussionName(int reason) {
  std::string name = pbr::v1::DiscussionReason_Name(static_cast<pbr::v1::DiscussionReason>(reason));
  if (name.empty()) return absl::StrCat("reason ", reason);
  return absl::StrReplaceAll(absl::AsciiStrToLower(absl::StripPrefix(name, "DISCUSS_")), {{"_", " "}});
}

std::string Discussion(const pbr::v1::CaseloadPerson& p) {
  std::vector<std::string> reasons;
  for (int r : p.discuss()) reasons.push_back(DiscussionName(r));
  return reasons.empty() ? "-" : absl::StrJoin(reasons, ", ");
}

// "8 (80%)", or "0 (-)" when there is nothing to take a share of.
std::string CountAndShare(int part, int whole, double percent) {
  return absl::StrCat(part, " (", whole > 0 ? absl::StrFormat("%.0f%%", percent) : "-", ")");
}

}  // namespace

std::string RenderCaseload(const pbr::v1::Caseload& c, bool with_persons) {
  const std::string who = c.care_coordinator_id().empty()
                              ? absl::StrCat("team ", c.team_id())
                              : absl::StrCat("team ", c.team_id(), ", care co-ordinator ", c.care_coordinator_id());
  std::string out = absl::StrFormat("%s: %d people, %d review(s) due, %d overdue, %d case(s) to discuss (as of %s)\n\n",
                                    who, c.people(), c.reviews_due(), c.reviews_overdue(), c.cases_to_discuss(),
                                    FormatDate(c.as_of()));
  Table t({"cluster", "class", "indicative", "people", "due", "overdue", "with HoNOS", "mean HoNOS", "mean days",
           "beyond", "seen 90d"},
          {true, false, false, true, true, true, true, true, true, true, true});
  int with_honos = 0, beyond = 0, seen = 0;
  double honos_sum = 0, days_sum = 0;
  for (const auto& k : c.clusters()) {
    t.AddRow({absl::StrCat(k.cluster()), k.super_class(), k.indicative_period(), absl::StrCat(k.people()),
              absl::StrCat(k.reviews_due()), absl::StrCat(k.reviews_overdue()), absl::StrCat(k.people_with_honos()),
              Mean(k.mean_latest_honos(), k.people_with_honos()), Mean(k.mean_days_in_cluster(), k.people()),
              absl::StrCat(k.beyond_indicative_period()), absl::StrCat(k.people_with_recent_contact())});
    with_honos += k.people_with_honos();
    honos_sum += k.mean_latest_honos() * k.people_with_honos();
    days_sum += k.mean_days_in_cluster() * k.people();
    beyond += k.beyond_indicative_period();
    seen += k.people_with_recent_contact();
  }
  t.AddSeparator();
  t.AddRow({"total", "", "", absl::StrCat(c.people()), absl::StrCat(c.reviews_due()), absl::StrCat(c.reviews_overdue()),
            absl::StrCat(with_honos), Mean(with_honos > 0 ? honos_sum / with_honos : 0, with_honos),
            Mean(c.people() > 0 ? days_sum / c.people() : 0, c.people()), absl::StrCat(beyond), absl::StrCat(seen)});
  absl::StrAppend(&out, t.Render());
  if (c.super_classes_size() > 0) {
    std::vector<std::string> classes;
    for (const auto& s : c.super_classes()) classes.push_back(absl::StrCat(s.super_class(), " ", s.people()));
    absl::StrAppend(&out, "super classes: ", absl::StrJoin(classes, ", "), "\n");
  }
  absl::StrAppend(&out, "mean days: in the cluster, against its indicative period (beyond: longer); seen 90d: a "
                        "face-to-face contact in the last 90 days\n");

  absl::StrAppend(&out, "\nclustering quality, all time (rules ", c.rule_version().empty() ? "-" : c.rule_version(),
                  "):\n");
  Table q({"", "initial allocations", "red rules met", "reviews", "within protocol"}, {false, true, true, true, true});
  auto quality_row = [&q](const std::string& name, const pbr::v1::ClusteringQuality& g) {
    q.AddRow({name, absl::StrCat(g.initial_allocations()),
              CountAndShare(g.red_rules_met(), g.initial_allocations(), g.red_rules_met_percent()),
              absl::StrCat(g.reviews()),
              CountAndShare(g.reviews_within_protocol(), g.reviews(), g.reviews_within_protocol_percent())});
  };
  quality_row(c.care_coordinator_id().empty() ? "team" : c.care_coordinator_id(), c.quality());
  if (c.care_coordinator_id().empty() && c.quality_by_clinician_size() > 0) {
    q.AddSeparator();
    for (const auto& g : c.quality_by_clinician()) quality_row(g.clinician_id(), g);
  }
  absl::StrAppend(&out, Indent(q.Render()));

  // The cases to raise in supervision, always; every person with --persons.
  Table p({"person", "cluster", "class", "co-ordinator", "HoNOS", "review", "due", "in cluster since", "days",
           "f2f 90d", "last contact", "discuss"},
          {false, true, false, false, true, false, false, false, true, true, false, false});
  for (const auto& person : c.persons()) {
    if (!with_persons && person.discuss_size() == 0) continue;
    p.AddRow({person.person_id(), absl::StrCat(person.cluster()), person.super_class(), person.care_coordinator_id(),
              person.has_honos() ? absl::StrCat(person.latest_honos_total()) : "-", StateName(person.review_state()),
              FormatDate(person.review_due_date()), FormatDate(person.in_cluster_since()),
              absl::StrCat(person.days_in_cluster(), person.beyond_indicative_period() ? " (beyond)" : ""),
              absl::StrCat(person.face_to_face_contacts_90_days()), FormatDate(person.last_face_to_face_contact()),
              Discussion(person)});
  }
  if (with_persons) {
    absl::StrAppend(&out, "\npersons:\n", p.Render());
  } else if (c.cases_to_discuss() > 0) {
    absl::StrAppend(&out, "\nto discuss in supervision (--persons lists everyone):\n", p.Render());
  }
  return out;
}

namespace {

// "the trust", "team cmht-north", "service area crht", "commissioner 00X".
std::string ScopeText(const pbr::v1::ReportScope& scope) {
  switch (scope.kind()) {
    case pbr::v1::REPORT_SCOPE_TRUST: return "the trust";
    case pbr::v1::REPORT_SCOPE_TEAM: return absl::StrCat("team ", scope.id());
    case pbr::v1::REPORT_SCOPE_SERVICE_AREA: return absl::StrCat("service area ", scope.id());
    case pbr::v1::REPORT_SCOPE_COMMISSIONER: return absl::StrCat("commissioner ", scope.id());
    default: return absl::StrCat("scope ", static_cast<int>(scope.kind()), " ", scope.id());
  }
}

std::vector<std::string> NationalRow(const std::string& label, const pbr::v1::NationalMeasure& m) {
  auto count = [](int64_t n, bool suppressed) { return suppressed ? std::string("*") : absl::StrCat(n); };
  return {label, count(m.acc33(), m.acc33_suppressed()), count(m.acc36(), m.acc36_suppressed()),
          m.acc37_suppressed() ? "*" : absl::StrFormat("%.1f", m.acc37())};
}

}  // namespace

std::string RenderNationalMeasures(const pbr::v1::NationalMeasures& n) {
  std::string out = absl::StrFormat("national review measures for %s at %s, the month end (%s)\n", ScopeText(n.scope()),
                                    FormatDate(n.period_end()), n.rule_version());
  if (n.publication_rounding()) {
    absl::StrAppend(&out, "as published: counts under 5 suppressed (*), others rounded to the nearest 5; ACC37 from "
                          "the unrounded counts\n");
  }
  Table t({"cluster", "ACC33 people", "ACC36 within review period", "ACC37 %"}, {true, true, true, true});
  for (const auto& k : n.clusters()) t.AddRow(NationalRow(absl::StrCat(k.cluster()), k));
  t.AddSeparator();
  t.AddRow(NationalRow("all", n.all()));
  absl::StrAppend(&out, "\n", t.Render());
  return out;
}

std::string RenderKpis(const pbr::v1::KpiReport& r) {
  std::string out = absl::StrFormat("KPIs for %s, %s to %s: caseload (1-3) at the end of %s; records (4-13) decided by %s\n\n",
                                    ScopeText(r.scope()), FormatDate(r.period_start()), FormatDate(r.period_end()),
                                    FormatDate(r.stock_day()), FormatDate(r.judged_on()));
  Table t({"KPI", "met", "of", "%", "target", "", "standard"}, {false, true, true, true, true, false, false});
  for (const auto& k : r.kpis()) {
    t.AddRow({k.id(), absl::StrCat(k.numerator()), absl::StrCat(k.denominator()),
              k.has_percent() ? absl::StrFormat("%.1f", k.percent()) : "-", absl::StrFormat("%g", k.target_percent()),
              !k.has_percent() ? "no records" : k.met() ? "on target" : "below", k.title()});
  }
  absl::StrAppend(&out, t.Render(), "\nWhat each counts (\"of\"):\n");
  for (const auto& k : r.kpis()) absl::StrAppend(&out, "  ", k.id(), ": ", k.counted(), "\n");
  absl::StrAppend(&out, "Records still pending on ", FormatDate(r.judged_on()), " are in neither column. Rules: ",
                  r.rule_version(), "\n");
  return out;
}

std::string RenderRuleChecks(const RuleChecks& checks) {
  if (checks.empty()) return "none\n";
  std::string out;
  for (const auto& c : checks) {
    absl::StrAppend(&out, c.passed() ? "✓ " : "✗ ", c.rule(), c.flagged() ? " (flagged)" : "");
    if (!c.reason().empty()) absl::StrAppend(&out, ": ", c.reason());
    if (!c.expected_clusters().empty()) {
      absl::StrAppend(&out, " (expected clusters: ", absl::StrJoin(c.expected_clusters(), ", "), ")");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string RenderSuggestions(const Suggestions& suggestions, size_t max_ranked, bool with_excluded) {
  std::vector<std::string> header = {"cluster", "fit"};
  std::vector<bool> right = {true, true};
  if (with_excluded) {
    header.push_back("excluded");
    right.push_back(false);
  }
  header.push_back("explanation");
  right.push_back(false);
  Table t(header, right);
  size_t ranked = 0;
  for (const auto& s : suggestions) {
    if (s.excluded() ? !with_excluded : ranked++ >= max_ranked) continue;
    std::vector<std::string> row = {absl::StrCat(s.cluster()), absl::StrFormat("%.0f%%", s.fit() * 100)};
    if (with_excluded) row.push_back(s.excluded() ? "yes" : "");
    row.push_back(s.explanation());
    t.AddRow(std::move(row));
  }
  return t.Render();
}

std::string RenderRecordReply(const pbr::v1::RecordAssessmentReply& r, absl::string_view verb) {
  std::string out = absl::StrCat(verb, " assessment ", r.assessment_id(), ", revision ", r.revision(),
                                 r.duplicate() ? " (duplicate: already recorded; this is the first reply again)" : "",
                                 "\n\n");
  Table t({"", ""}, {false, false});
  t.AddRow({"person", r.person_id()});
  t.AddRow({"episode", r.episode_id()});
  t.AddRow({"cluster changed", YesNo(r.cluster_changed())});
  t.AddRow({"rules", r.rule_version()});
  absl::StrAppend(&out, t.Render(), "\nrule checks:\n", Indent(RenderRuleChecks(r.checks())));
  int ranked = 0;
  for (const auto& s : r.suggestions()) ranked += s.excluded() ? 0 : 1;
  if (ranked > 0) {
    absl::StrAppend(&out, "\ntop suggestions (best fit first; `pbrctl suggest` for all):\n",
                    Indent(RenderSuggestions(r.suggestions(), 3, false)));
  }
  return out;
}

std::string RenderWithdrawReply(const pbr::v1::WithdrawAssessmentReply& r) {
  Table t({"", ""}, {false, false});
  t.AddRow({"person", r.person_id()});
  t.AddRow({"cluster changed", YesNo(r.cluster_changed())});
  return absl::StrCat("withdrew assessment ", r.assessment_id(), ", revision ", r.revision(), "\n\n", t.Render());
}

std::string RenderCareEventReply(const pbr::v1::RecordCareEventReply& r) {
  return absl::StrCat("recorded care event ", r.care_event_id(), " for person ", r.person_id(),
                      r.duplicate() ? " (duplicate: already recorded)" : "", "\n");
}

std::string RenderSuggestReply(const pbr::v1::SuggestClustersReply& r) {
  int ranked = 0;
  for (const auto& s : r.suggestions()) ranked += s.excluded() ? 0 : 1;
  return absl::StrCat(ranked, " cluster(s) ranked, ", r.suggestions_size() - ranked, " excluded (rules ",
                      r.rule_version(), ")\n\n", RenderSuggestions(r.suggestions(), r.suggestions_size(), true));
}

std::string ExampleProfilesWarning() {
  return "warning: these fits come from the shipped EXAMPLE scoring profiles "
         "(rules/scoring_profiles.EXAMPLE.yaml), not a trust's cluster grid; do not allocate by them\n";
}

std::string RenderPerson(const pbr::v1::Person& p) {
  Table t({"", ""}, {false, false});
  t.AddRow({"person", p.person_id()});
  t.AddRow({"cluster", p.has_cluster() ? absl::StrCat(p.cluster(), " since ", FormatTimestamp(p.cluster_since()),
                                                      " UTC")
                                       : "none"});
  t.AddRow({"team", p.team_id().empty() ? "-" : p.team_id()});
  t.AddRow({"episode", p.episode_id().empty() ? "-" : p.episode_id()});
  t.AddRow({"assessments", absl::StrCat(p.assessments())});
  std::vector<std::string> ids;
  for (const auto& l : p.local_ids()) ids.push_back(absl::StrCat(l.source_system(), " ", l.local_patient_id()));
  t.AddRow({"local ids", ids.empty() ? "-" : absl::StrJoin(ids, ", ")});
  return t.Render();
}

std::string RenderAssessments(const std::string& person_id, const pbr::v1::ListAssessmentsReply& r) {
  std::string out = absl::StrFormat("person %s: %d assessment(s), newest first\n\n", person_id,
                                    r.assessments_size());
  Table t({"assessed (UTC)", "cluster", "reason", "rev", "team", "source record", "checks", "rationale", "status",
           "assessment"},
          {false, true, false, true, false, false, false, false, false, false});
  for (const auto& a : r.assessments()) {
    t.AddRow({FormatTimestamp(a.assessed_at()), absl::StrCat(a.cluster()), ReasonName(a.reason()),
              absl::StrCat(a.revision()), a.team_id(), absl::StrCat(a.source_system(), " ", a.source_record_id()),
              ChecksSummary(a.checks()), a.clinical_rationale().empty() ? "" : "yes",
              a.withdrawn() ? "withdrawn" : "", a.assessment_id()});
  }
  return absl::StrCat(out, t.Render());
}

std::string RenderEpisodes(const std::string& person_id, const pbr::v1::ListEpisodesReply& r) {
  std::string out = absl::StrFormat("person %s: %d episode(s), newest first\n\n", person_id, r.episodes_size());
  Table t({"started (UTC)", "ended (UTC)", "cluster", "team", "commissioner", "episode", "started by"},
          {false, false, true, false, false, false, false});
  for (const auto& e : r.episodes()) {
    t.AddRow({FormatTimestamp(e.started_at()), e.has_ended_at() ? FormatTimestamp(e.ended_at()) : "current",
              absl::StrCat(e.cluster()), e.team_id(), e.commissioner_id().empty() ? "-" : e.commissioner_id(),
              e.episode_id(), e.started_by_assessment_id()});
  }
  return absl::StrCat(out, t.Render());
}

std::string RenderAudit(const std::string& who, const pbr::v1::ListAuditReply& r) {
  std::string out = absl::StrFormat("%s: %d audit entr%s, newest first\n\n", who, r.entries_size(),
                                    r.entries_size() == 1 ? "y" : "ies");
  Table t({"at (UTC)", "call", "person", "by", "outcome", "caller", "role", "peer"}, {});
  for (const auto& e : r.entries()) {
    const std::string role = e.caller_source_system().empty() ? e.caller_role()
                                                               : absl::StrCat(e.caller_role(), " ", e.caller_source_system());
    t.AddRow({FormatTimestamp(e.at()), std::string(absl::StripPrefix(e.call(), "/pbr.v1.")), e.person_id(),
              e.looked_up_by(), e.outcome(), e.caller_subject().empty() ? "-" : e.caller_subject(),
              role.empty() ? "-" : role, e.peer().empty() ? "-" : e.peer()});
  }
  return out + t.Render();
}

Table::Table(std::vector<std::string> header, std::vector<bool> right_aligned)
    : header_(std::move(header)), right_aligned_(std::move(right_aligned)) {
  right_aligned_.resize(header_.size(), false);
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

void Table::AddSeparator() { rows_.emplace_back(); }

std::string Table::Render() const {
  const bool has_header = std::any_of(header_.begin(), header_.end(), [](const auto& h) { return !h.empty(); });
  std::vector<size_t> widths(header_.size(), 0);
  for (size_t i = 0; i < header_.size(); ++i) widths[i] = DisplayWidth(header_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(widths[i] - DisplayWidth(cells[i]), ' ');
      if (i > 0) out += "  ";
      out += right_aligned_[i] ? pad + cells[i] : (i + 1 < cells.size() ? cells[i] + pad : cells[i]);
    }
    return std::string(absl::StripTrailingAsciiWhitespace(out)) + "\n";
  };
  std::string out;
  if (has_header) out += line(header_);
  for (const auto& row : rows_) {
    if (!row.empty()) {
      out += line(row);
      continue;
    }
    size_t total = 0;
    for (size_t w : widths) total += w;
    out += std::string(total + 2 * (widths.size() - 1), '-') + "\n";
  }
  return out;
}

}  // namespace pbr::cli

namespace pbr::cli {

std::string RenderTariffTotals(const pbr::v1::TariffExportTotals& t, const std::string& commissioner,
                               const std::string& month, const std::string& file) {
  std::string out = absl::StrFormat("Tariff lines of commissioner %s for %s: %d, written to %s\n", commissioner, month,
                                    t.lines(), file);
  absl::StrAppendFormat(&out, "  net cluster-days %d, review periods started %d, amount %s\n", t.days(),
                        t.review_periods_started(), care::FormatPence(t.amount_pence()));
  if (t.unpriced_lines() > 0) {
    absl::StrAppendFormat(&out, "  NOT PRICED: %d lines (%d net days) have no price; see their gap column\n",
                          t.unpriced_lines(), t.unpriced_days());
  }
  if (t.lines() == 0) out += "  (no activity was billed to this commissioner in this month)\n";
  return out;
}

}  // namespace pbr::cli
