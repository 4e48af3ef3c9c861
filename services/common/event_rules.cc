#include "event_rules.h"

#include <string>

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
  p.Identifier("care_coordinator_id", a.care_coordinator_id(), Need::kOptional);
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

// Whether `a` is after `b`, on the raw fields (only compared once both are known to be times).
bool After(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return a.seconds() != b.seconds() ? a.seconds() > b.seconds() : a.nanos() > b.nanos();
}

// An event-triggered review (SOP Table 13) apart from its outcome, which the caller checks.
void CheckTrigger(Problems& p, const std::string& field, const pbr::v1::ReviewTrigger& t) {
  if (t.kind() == pbr::v1::REVIEW_TRIGGER_KIND_UNSPECIFIED || !pbr::v1::ReviewTriggerKind_IsValid(t.kind())) {
    p.Add(absl::StrCat(field, ".kind"), absl::StrCat(static_cast<int>(t.kind()),
                                                     " is not a trigger (in-hours or out-of-hours referral, discharge "
                                                     "review, inpatient admission)"));
  }
  p.Identifier(absl::StrCat(field, ".care_event_id"), t.care_event_id(), Need::kRequired);
  p.Identifier(absl::StrCat(field, ".met_by_assessment_id"), t.met_by_assessment_id(), Need::kOptional);
  p.Identifier(absl::StrCat(field, ".team_id"), t.team_id(), Need::kOptional);
  p.Identifier(absl::StrCat(field, ".rule_version"), t.rule_version(), Need::kOptional);
  Problems times;
  times.Time(absl::StrCat(field, ".occurred_at"), t.occurred_at(), t.has_occurred_at(), Need::kRequired);
  times.Time(absl::StrCat(field, ".window_opens"), t.window_opens(), t.has_window_opens(), Need::kRequired);
  times.Time(absl::StrCat(field, ".deadline"), t.deadline(), t.has_deadline(), Need::kRequired);
  if (times.ok() && After(t.window_opens(), t.deadline())) {
    times.Add(absl::StrCat(field, ".window_opens"), "is after the deadline");
  }
  p.Check(times.Result());
}

absl::Status ReviewDue(const care::RuleSet& rules, const pbr::v1::ReviewDue& r) {
  Problems p("review_due.");
  const bool trigger = r.has_trigger();
  // A missed trigger of a person with no cluster yet (an inpatient admission awaiting its initial
  // allocation) has no basis, so no formal review to describe.
  const bool basis = !trigger || !r.basis_assessment_id().empty();
  p.Identifier("basis_assessment_id", r.basis_assessment_id(), basis ? Need::kRequired : Need::kOptional);
  p.Identifier("team_id", r.team_id(), Need::kRequired);  // with no basis, the trigger's team
  p.Identifier("rule_version", r.rule_version(), Need::kOptional);
  p.Identifier("service_area", r.service_area(), Need::kOptional, limits::kServiceAreaBytes);
  p.Cluster(rules, "cluster", r.cluster());
  p.Date("latest_mhct_date", r.latest_mhct_date(), r.has_latest_mhct_date(), Need::kOptional);
  p.Date("window_opens", r.window_opens(), r.has_window_opens(), basis ? Need::kRequired : Need::kOptional);
  p.Date("due_date", r.due_date(), r.has_due_date(), basis ? Need::kRequired : Need::kOptional);
  if (!trigger) {
    if (r.state() != pbr::v1::REVIEW_STATE_DUE && r.state() != pbr::v1::REVIEW_STATE_OVERDUE) {
      p.Add("state", "must be due or overdue (only those are announced)");
    }
    if (r.retracted()) p.Add("retracted", "only a trigger's announcement is retracted (trigger is not set)");
    return p.Result();
  }
  if (r.state() != pbr::v1::REVIEW_STATE_OVERDUE) p.Add("state", "must be overdue on a trigger's announcement");
  CheckTrigger(p, "trigger", r.trigger());
  const auto outcome = r.trigger().outcome();
  if (!r.retracted() && outcome != pbr::v1::TRIGGER_OUTCOME_MISSED) {
    p.Add("trigger.outcome", "must be missed (only a missed trigger is announced)");
  } else if (r.retracted() && outcome != pbr::v1::TRIGGER_OUTCOME_MET && outcome != pbr::v1::TRIGGER_OUTCOME_WITHDRAWN &&
             outcome != pbr::v1::TRIGGER_OUTCOME_PENDING) {
    p.Add("trigger.outcome", "must be met, withdrawn or pending on a retraction");
  }
  return p.Result();
}

absl::Status ReviewCompleted(const care::RuleSet& rules, const pbr::v1::ReviewCompleted& c) {
  Problems p("review_completed.");
  p.Identifier("assessment_id", c.assessment_id(), Need::kRequired);
  p.Identifier("reviewed_assessment_id", c.reviewed_assessment_id(), Need::kRequired);
  if (c.revision() < 0) p.Add("revision", absl::StrCat(c.revision(), " is negative"));
  // Bounds hold for every completion, a withdrawn one included: nothing oversized travels.
  p.Identifier("rule_version", c.rule_version(), Need::kOptional);
  p.Identifier("referral_id", c.referral_id(), Need::kOptional);
  p.Identifier("team_id", c.team_id(), c.withdrawn() ? Need::kOptional : Need::kRequired);
  if (c.withdrawn()) return p.Result();  // as for an assessment's withdrawal: identity only
  p.Cluster(rules, "cluster", c.cluster());
  p.Cluster(rules, "reviewed_cluster", c.reviewed_cluster());
  p.Time("assessed_at", c.assessed_at(), c.has_assessed_at(), Need::kRequired);
  p.Date("reviewed_mhct_date", c.reviewed_mhct_date(), c.has_reviewed_mhct_date(), Need::kRequired);
  p.Date("window_opens", c.window_opens(), c.has_window_opens(), Need::kRequired);
  p.Date("due_date", c.due_date(), c.has_due_date(), Need::kRequired);
  if (!pbr::v1::ReviewKind_IsValid(c.kind())) {
    p.Add("kind", absl::StrCat(static_cast<int>(c.kind()),
                               " is not a review kind (formal, transfer, discharge, unplanned or unspecified)"));
  }
  if (c.days_early() < 0) p.Add("days_early", absl::StrCat(c.days_early(), " is negative"));
  if (c.days_late() < 0) p.Add("days_late", absl::StrCat(c.days_late(), " is negative"));
  if (c.days_early() > 0 && c.days_late() > 0) {
    p.Add("days_late", absl::StrCat(c.days_late(), " with days_early ", c.days_early(), ": a review is early or late"));
  }
  if (c.on_time() && c.days_late() != 0) {
    p.Add("on_time", absl::StrCat("set with days_late ", c.days_late(), " (on time means 0 days late)"));
  } else if (!c.on_time() && c.days_late() == 0) {
    p.Add("on_time", "not set with days_late 0 (a late review is at least 1 day late)");
  }
  return p.Result();
}

absl::Status OutcomeRecorded(const care::RuleSet& rules, const pbr::v1::OutcomeRecorded& o) {
  Problems p("outcome_recorded.");
  p.Identifier("assessment_id", o.assessment_id(), Need::kRequired);
  p.Identifier("rule_version", o.rule_version(), Need::kOptional);
  p.Identifier("team_id", o.team_id(), o.withdrawn() ? Need::kOptional : Need::kRequired);
  // The episode as it now stands goes with a withdrawal too.
  if (o.has_episode()) {
    const auto& e = o.episode();
    p.Identifier("episode.referral_id", e.referral_id(), Need::kRequired);
    p.Identifier("episode.team_id", e.team_id(), Need::kOptional);
    p.Identifier("episode.commissioner_id", e.commissioner_id(), Need::kOptional);
    p.Count("episode.change.items", e.change().items_size(), care::kHonosItemCount);
    p.Count("episode.change.factors", e.change().factors_size(), care::kMaxOutcomeFactors);
    p.Date("episode.counted_on", e.counted_on(), e.has_counted_on(), Need::kOptional);
  }
  if (o.withdrawn()) return p.Result();  // as for the assessment's own withdrawal: identity and episode only
  p.Cluster(rules, "cluster", o.cluster());
  p.Time("assessed_at", o.assessed_at(), o.has_assessed_at(), Need::kRequired);
  constexpr int kMaxTotal = care::kHonosItemCount * care::kMaxRating;
  if (o.honos_total() < 0 || o.honos_total() > kMaxTotal) {
    p.Add("honos_total", absl::StrCat(o.honos_total(), " is not 0-", kMaxTotal));
  }
  if (o.missing_items() < 0 || o.missing_items() > care::kHonosItemCount) {
    p.Add("missing_items", absl::StrCat(o.missing_items(), " is not 0-", care::kHonosItemCount));
  }
  // What outcomes computed: bounded by construction (12 items, a model's few factors), checked so a
  // consumer never takes an oversized or foreign payload for this assessment's.
  if (o.has_measures()) {
    const auto& m = o.measures();
    if (m.assessment_id() != o.assessment_id()) p.Add("measures.assessment_id", "is not the outcome's assessment_id");
    p.Identifier("measures.referral_id", m.referral_id(), Need::kOptional);
    p.Identifier("measures.missing_item_policy", m.missing_item_policy(), Need::kOptional);
    p.Count("measures.items", m.items_size(), care::kHonosItemCount);
    p.Count("measures.care_plan_needs", m.care_plan_needs_size(), care::kHonosItemCount);
    p.Count("measures.factors", m.factors_size(), care::kMaxOutcomeFactors);
    for (const auto* c : {&m.since_first(), &m.since_previous()}) {
      p.Count("measures.changes.items", c->items_size(), care::kHonosItemCount);
      p.Count("measures.changes.factors", c->factors_size(), care::kMaxOutcomeFactors);
      p.Identifier("measures.changes.earlier_assessment_id", c->earlier_assessment_id(), Need::kOptional);
    }
  }
  return p.Result();
}

// A tariff line: its identity and key, figures whose sign matches its kind, and a price only when priced.
absl::Status TariffActivity(const care::RuleSet& rules, const pbr::v1::TariffActivity& t) {
  Problems p("tariff_activity.");
  if (t.sequence() == 0) p.Add("sequence", "must be 1 or more");
  const bool reversal = t.kind() == pbr::v1::TARIFF_LINE_REVERSAL;
  if (t.kind() != pbr::v1::TARIFF_LINE_ORIGINAL && !reversal && t.kind() != pbr::v1::TARIFF_LINE_RESTATEMENT) {
    p.Add("kind", absl::StrCat(t.kind(), " is not an original, a reversal or a restatement"));
  }
  p.Identifier("person_id", t.person_id(), Need::kRequired);
  p.Identifier("commissioner_id", t.commissioner_id(), Need::kRequired);
  p.Identifier("team_id", t.team_id(), Need::kOptional);
  p.Cluster(rules, "cluster", t.cluster());
  if (t.year() < 2000 || t.year() > 2199) p.Add("year", absl::StrCat(t.year(), " is not in 2000-2199"));
  if (t.month() < 1 || t.month() > 12) p.Add("month", absl::StrCat(t.month(), " is not in 1-12"));
  constexpr int64_t kMaxDays = 366;  // a bound, not a rule: one person, one month (episodes may share a day)
  const auto in_sign = [&](absl::string_view field, int64_t v, int64_t max) {
    if (reversal ? (v > 0 || v < -max) : (v < 0 || v > max)) {
      p.Add(field, absl::StrCat(v, reversal ? " is not in the reversal's range " : " is not in 0-", reversal ? -max : max,
                                reversal ? "-0" : ""));
    }
  };
  in_sign("days", t.days(), kMaxDays);
  in_sign("review_periods_started", t.review_periods_started(), kMaxDays);
  if (t.priced()) {
    if (t.basis() != "per_cluster_day" && t.basis() != "per_review_period") {
      p.Add("basis", absl::StrCat(platform::Quote(t.basis()), " is not per_cluster_day or per_review_period"));
    }
    if (t.unit_price_pence() < 0) p.Add("unit_price_pence", "is negative");
    const int64_t units = t.basis() == "per_review_period" ? t.review_periods_started() : t.days();
    if (t.amount_pence() != units * t.unit_price_pence()) {
      p.Add("amount_pence", absl::StrCat(t.amount_pence(), " is not ", units, " x ", t.unit_price_pence()));
    }
    if (!t.gap().empty()) p.Add("gap", "must be empty on a priced line");
  } else {
    if (t.amount_pence() != 0 || t.unit_price_pence() != 0) p.Add("amount_pence", "must be 0 on a line without a price");
    if (t.gap().empty()) p.Add("gap", "required on a line without a price: say why it has none");
  }
  p.Text("gap", t.gap(), limits::kRuleReasonBytes);
  p.Identifier("price_list_version", t.price_list_version(), Need::kOptional);
  p.Identifier("rule_version", t.rule_version(), Need::kOptional);
  if (reversal != (t.reverses_sequence() != 0)) {
    p.Add("reverses_sequence", reversal ? "required on a reversal" : "only a reversal reverses a line");
  }
  if (t.reverses_sequence() >= t.sequence() && t.reverses_sequence() != 0) {
    p.Add("reverses_sequence", "must be an earlier line");
  }
  if (t.cause().empty()) p.Add("cause", "required");
  p.Text("cause", t.cause(), limits::kRuleReasonBytes);
  p.Identifier("cause_event_id", t.cause_event_id(), Need::kOptional);
  p.Time("issued_at", t.issued_at(), t.has_issued_at(), Need::kRequired);
  p.Identifier("ledger_id", t.ledger_id(), Need::kRequired);
  return p.Result();
}

absl::Status DeadLetter(const pbr::v1::DeadLetter& d) {
  Problems p("dead_letter.");
  p.Identifier("topic", d.topic(), Need::kRequired, 255);  // Kafka's own limit on topic names
  p.Identifier("consumer_group", d.consumer_group(), Need::kRequired);
  if (d.reason().empty()) p.Add("reason", "required");
  return p.Result();
}

absl::Status AuditRecorded(const pbr::v1::AuditEntry& a, absl::string_view person_id) {
  Problems p("audit_recorded.");
  p.Identifier("audit_id", a.audit_id(), Need::kRequired);
  p.Identifier("call", a.call(), Need::kRequired);
  p.Text("caller_subject", a.caller_subject(), limits::kCallerSubjectBytes);
  p.Identifier("caller_role", a.caller_role(), Need::kOptional);
  p.Identifier("caller_source_system", a.caller_source_system(), Need::kOptional);
  p.Text("peer", a.peer(), limits::kPeerBytes);
  p.Time("at", a.at(), a.has_at(), Need::kRequired);
  p.Identifier("person_id", a.person_id(), Need::kRequired);
  if (a.person_id() != person_id) p.Add("person_id", "differs from the envelope's person_id");
  p.Identifier("looked_up_by", a.looked_up_by(), Need::kRequired);
  p.Identifier("outcome", a.outcome(), Need::kRequired);
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
    case EventEnvelope::kReviewCompleted: p.Check(ReviewCompleted(rules, event.review_completed())); break;
    case EventEnvelope::kOutcomeRecorded: p.Check(OutcomeRecorded(rules, event.outcome_recorded())); break;
    case EventEnvelope::kTariffActivity: p.Check(TariffActivity(rules, event.tariff_activity())); break;
    case EventEnvelope::kDeadLetter: p.Check(DeadLetter(event.dead_letter())); break;
    case EventEnvelope::kAuditRecorded: p.Check(AuditRecorded(event.audit_recorded(), event.person_id())); break;
    case EventEnvelope::PAYLOAD_NOT_SET: break;  // reported above
  }
  return p.Result();
}

absl::Status StageChecked(platform::Outbox& outbox, const care::RuleSet& rules, rocksdb::WriteBatchBase& batch,
                          absl::string_view topic_name, const EventEnvelope& event) {
  if (auto st = ValidateEvent(rules, topic_name, event); !st.ok()) {
    return absl::InternalError(absl::StrCat("built an event on ", topic_name, " its consumers would refuse: ",
                                            st.message()));
  }
  outbox.Stage(batch, topic_name, event);
  return absl::OkStatus();
}

platform::EventValidator SharedEventRules(std::shared_ptr<const care::RuleSet> rules) {
  return [rules = std::move(rules)](absl::string_view topic_name, const EventEnvelope& event) {
    return ValidateEvent(*rules, topic_name, event);
  };
}

}  // namespace pbr::services
