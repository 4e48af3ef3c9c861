#include "event_rules.h"

#include "absl/strings/str_cat.h"
#include "care/mhct.h"
#include "field_rules.h"
#include "platform/events.h"
#include "platform/quote.h"

namespace pbr::services {
namespace {

namespace topic = platform::topic;
using pbr::v1::EventEnvelope;

void CheckRuleChecks(Problems& p, const care::RuleSet& rules,
                     const google::protobuf::RepeatedPtrField<pbr::v1::RuleCheck>& checks) {
  p.Count("checks", checks.size(), limits::kMaxRuleChecks);
  for (int i = 0; i < checks.size() && i < limits::kMaxRuleChecks; ++i) {
    const auto& c = checks[i];
    const std::string field = absl::StrCat("checks[", i, "]");
    p.Identifier(absl::StrCat(field, ".rule"), c.rule(), Need::kRequired, limits::kRuleNameBytes);
    p.Text(absl::StrCat(field, ".reason"), c.reason(), limits::kRuleReasonBytes);
    p.Identifier(absl::StrCat(field, ".rule_version"), c.rule_version(), Need::kOptional);
    p.Count(absl::StrCat(field, ".expected_clusters"), c.expected_clusters_size(), limits::kMaxExpectedClusters);
    for (int k = 0; k < c.expected_clusters_size() && k < limits::kMaxExpectedClusters; ++k) {
      p.Cluster(rules, absl::StrCat(field, ".expected_clusters[", k, "]"), c.expected_clusters(k));
    }
  }
}

absl::Status AssessmentRecorded(const care::RuleSet& rules, const pbr::v1::AssessmentRecorded& a) {
  Problems p("assessment_recorded.");
  p.Identifier("assessment_id", a.assessment_id(), Need::kRequired);
  if (a.revision() < 0) p.Add("revision", absl::StrCat(a.revision(), " is negative"));
  // Bounds hold for every revision, a withdrawal included: nothing oversized travels.
  p.Identifier("rule_version", a.rule_version(), Need::kOptional);
  p.Identifier("commissioner_id", a.commissioner_id(), Need::kOptional);
  p.Identifier("episode_id", a.episode_id(), Need::kOptional);
  p.Identifier("referral_id", a.referral_id(), Need::kOptional);
  p.Identifier("service_area", a.service_area(), Need::kOptional, limits::kServiceAreaBytes);
  p.Text("clinical_rationale", a.clinical_rationale(), limits::kClinicalRationaleBytes);
  if (a.withdrawn()) {
    // The content is as last recorded (perhaps under older rules) and no consumer uses it; the
    // withdrawal itself must always get through, or a withdrawn assessment would go on counting.
    if (a.revision() < 1) p.Add("revision", "a withdrawal follows the assessment: at least 1");
    p.Identifier("source_record_id", a.source_record_id(), Need::kOptional);
    p.Identifier("team_id", a.team_id(), Need::kOptional);
    p.Identifier("clinician_id", a.clinician_id(), Need::kOptional);
    p.Count("checks", a.checks_size(), limits::kMaxRuleChecks);
    p.Text("ratings.item8_other_text", a.ratings().item8_other_text(), limits::kItem8OtherTextBytes);
    p.Count("ratings.items", a.ratings().items_size(), limits::kRatingItems);
    p.Text("ratings.item8_problem_type", a.ratings().item8_problem_type(), limits::kItem8ProblemTypeBytes);
    return p.Result();
  }
  p.Identifier("source_record_id", a.source_record_id(), Need::kRequired);
  p.Identifier("team_id", a.team_id(), Need::kRequired);
  p.Identifier("clinician_id", a.clinician_id(), Need::kRequired);
  p.Time("assessed_at", a.assessed_at(), a.has_assessed_at(), Need::kRequired);
  p.Time("first_contact_at", a.first_contact_at(), a.has_first_contact_at(), Need::kOptional);
  p.Time("admitted_at", a.admitted_at(), a.has_admitted_at(), Need::kOptional);
  p.Time("effective_at", a.effective_at(), a.has_effective_at(), Need::kOptional);
  p.Ratings(a.ratings(), a.has_ratings());
  p.Cluster(rules, "cluster", a.cluster());
  p.Reason(a.reason(), a.change_class());
  p.FaceToFaceContacts(a.face_to_face_contacts());
  CheckRuleChecks(p, rules, a.checks());
  return p.Result();
}

absl::Status CareEventRecorded(const pbr::v1::CareEventRecorded& c) {
  Problems p("care_event_recorded.");
  p.Identifier("care_event_id", c.care_event_id(), Need::kRequired);
  if (c.revision() < 0) p.Add("revision", absl::StrCat(c.revision(), " is negative"));
  if (c.withdrawn() && c.revision() < 1) p.Add("revision", "a withdrawal follows the care event: at least 1");
  p.Identifier("referral_id", c.referral_id(), Need::kOptional);
  if (c.withdrawn()) {
    // Like an assessment's withdrawal: it must always get through, whatever content it carries.
    p.Identifier("source_record_id", c.source_record_id(), Need::kOptional);
    p.Identifier("team_id", c.team_id(), Need::kOptional);
    p.Identifier("clinician_id", c.clinician_id(), Need::kOptional);
    return p.Result();
  }
  p.Identifier("source_record_id", c.source_record_id(), Need::kRequired);
  p.Identifier("team_id", c.team_id(), Need::kRequired);
  p.Identifier("clinician_id", c.clinician_id(), Need::kOptional);
  p.Time("occurred_at", c.occurred_at(), c.has_occurred_at(), Need::kRequired);
  p.CareEventType(c.type(), c.out_of_hours());
  return p.Result();
}

absl::Status ClusterChanged(const care::RuleSet& rules, const pbr::v1::ClusterChanged& c) {
  Problems p("cluster_changed.");
  p.Identifier("assessment_id", c.assessment_id(), Need::kRequired);
  p.Identifier("team_id", c.team_id(), Need::kRequired);
  p.Cluster(rules, "cluster", c.cluster());
  if (c.has_previous_cluster()) {
    p.Cluster(rules, "previous_cluster", c.previous_cluster());
  } else if (c.previous_cluster() != 0) {
    p.Add("previous_cluster", "set without has_previous_cluster");
  }
  p.Time("effective_at", c.effective_at(), c.has_effective_at(), Need::kRequired);
  if (c.ended() && c.has_previous_cluster()) p.Add("previous_cluster", "set on an ended episode");
  p.Identifier("referral_id", c.referral_id(), Need::kOptional);
  p.Identifier("episode_id", c.episode_id(), Need::kOptional);
  return p.Result();
}

absl::Status ReviewDue(const care::RuleSet& rules, const pbr::v1::ReviewDue& r) {
  Problems p("review_due.");
  p.Identifier("basis_assessment_id", r.basis_assessment_id(), Need::kRequired);
  p.Identifier("team_id", r.team_id(), Need::kRequired);
  p.Identifier("rule_version", r.rule_version(), Need::kOptional);
  p.Cluster(rules, "cluster", r.cluster());
  p.Date("latest_mhct_date", r.latest_mhct_date(), r.has_latest_mhct_date(), Need::kOptional);
  p.Date("window_opens", r.window_opens(), r.has_window_opens(), Need::kRequired);
  p.Date("due_date", r.due_date(), r.has_due_date(), Need::kRequired);
  if (r.state() != pbr::v1::REVIEW_STATE_DUE && r.state() != pbr::v1::REVIEW_STATE_OVERDUE) {
    p.Add("state", "must be due or overdue (only those are announced)");
  }
  return p.Result();
}

absl::Status OutcomeRecorded(const care::RuleSet& rules, const pbr::v1::OutcomeRecorded& o) {
  Problems p("outcome_recorded.");
  p.Identifier("assessment_id", o.assessment_id(), Need::kRequired);
  p.Identifier("rule_version", o.rule_version(), Need::kOptional);
  p.Identifier("team_id", o.team_id(), o.withdrawn() ? Need::kOptional : Need::kRequired);
  if (o.withdrawn()) return p.Result();  // as for the assessment's own withdrawal: identity only
  p.Cluster(rules, "cluster", o.cluster());
  p.Time("assessed_at", o.assessed_at(), o.has_assessed_at(), Need::kRequired);
  constexpr int kMaxTotal = care::kHonosItemCount * care::kMaxRating;
  if (o.honos_total() < 0 || o.honos_total() > kMaxTotal) {
    p.Add("honos_total", absl::StrCat(o.honos_total(), " is not 0-", kMaxTotal));
  }
  if (o.missing_items() < 0 || o.missing_items() > care::kHonosItemCount) {
    p.Add("missing_items", absl::StrCat(o.missing_items(), " is not 0-", care::kHonosItemCount));
  }
  return p.Result();
}

absl::Status DeadLetter(const pbr::v1::DeadLetter& d) {
  Problems p("dead_letter.");
  p.Identifier("topic", d.topic(), Need::kRequired, 255);  // Kafka's own limit on topic names
  p.Identifier("consumer_group", d.consumer_group(), Need::kRequired);
  if (d.reason().empty()) p.Add("reason", "required");
  return p.Result();
}

}  // namespace

absl::Status ValidateEvent(const care::RuleSet& rules, absl::string_view topic_name, const EventEnvelope& event) {
  Problems p;
  const bool dead_letter = topic_name == topic::kDeadLetter;
  p.Identifier("event_id", event.event_id(), Need::kRequired);
  if (event.event_type() != topic_name) {
    p.Add("event_type", absl::StrCat(platform::Quote(event.event_type()), " does not match the topic ",
                                     platform::Quote(topic_name)));
  }
  if (event.schema_version() < 1 || event.schema_version() > platform::kSchemaVersion) {
    p.Add("schema_version", absl::StrCat(event.schema_version(), " is not 1-", platform::kSchemaVersion));
  }
  p.Time("occurred_at", event.occurred_at(), event.has_occurred_at(), Need::kRequired);
  p.Time("recorded_at", event.recorded_at(), event.has_recorded_at(), Need::kRequired);
  p.Identifier("source_system", event.source_system(), Need::kOptional);  // a timer's events have none
  // A dead letter is keyed by whatever the bad message's key was.
  if (!dead_letter) p.Identifier("person_id", event.person_id(), Need::kRequired);
  p.Identifier("trace_id", event.trace_id(), Need::kOptional);
  if (platform::EventTypeOf(event) != topic_name) {
    p.Add("payload", event.payload_case() == EventEnvelope::PAYLOAD_NOT_SET
                         ? absl::StrCat("missing (", platform::Quote(topic_name), " needs one)")
                         : absl::StrCat("'", platform::EventTypeOf(event), "' does not belong on topic ",
                                        platform::Quote(topic_name)));
    return p.Result();
  }
  switch (event.payload_case()) {
    case EventEnvelope::kAssessmentRecorded: p.Check(AssessmentRecorded(rules, event.assessment_recorded())); break;
    case EventEnvelope::kCareEventRecorded: p.Check(CareEventRecorded(event.care_event_recorded())); break;
    case EventEnvelope::kClusterChanged: p.Check(ClusterChanged(rules, event.cluster_changed())); break;
    case EventEnvelope::kReviewDue: p.Check(ReviewDue(rules, event.review_due())); break;
    case EventEnvelope::kOutcomeRecorded: p.Check(OutcomeRecorded(rules, event.outcome_recorded())); break;
    case EventEnvelope::kDeadLetter: p.Check(DeadLetter(event.dead_letter())); break;
    case EventEnvelope::PAYLOAD_NOT_SET: break;  // reported above
  }
  return p.Result();
}

platform::EventValidator SharedEventRules(std::shared_ptr<const care::RuleSet> rules) {
  return [rules = std::move(rules)](absl::string_view topic_name, const EventEnvelope& event) {
    return ValidateEvent(*rules, topic_name, event);
  };
}

}  // namespace pbr::services
