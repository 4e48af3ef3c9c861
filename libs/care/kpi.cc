#include "care/kpi.h"
#include "internal.h"

#include "care/rules.h"
#include "care/review_triggers.h"
#include <functional>

namespace care {

KpiResult MakeKpiResult(const KpiSettings& settings, std::string_view id, int64_t numerator,
                        int64_t denominator, std::string rule_version) {
  KpiResult r;
  r.id = std::string(id);
  auto it = settings.kpis.find(r.id);
  if (it != settings.kpis.end()) {
    r.title = it->second.title;
    r.target_percent = it->second.target_percent;
  }
  r.numerator = numerator;
  r.denominator = denominator;
  if (denominator > 0) {
    r.percent = 100.0 * static_cast<double>(numerator) / static_cast<double>(denominator);
    // Compare in integers so 95% of 20 (19/20) meets a 95% target exactly.
    r.met = static_cast<double>(numerator) * 100.0 >= r.target_percent * static_cast<double>(denominator);
  }
  r.rule_version = std::move(rule_version);
  return r;
}

namespace {

bool HasValidCluster(const CaseloadRecord& c) { return c.cluster.has_value() && IsValidClusterId(*c.cluster); }

template <typename R, typename Pred>
KpiResult AdherenceKpi(const RuleSet& rules, std::string_view id, std::span<const R> records, Pred reviewed) {
  int64_t num = 0, den = 0;
  for (const R& r : records) {
    if (!reviewed(r)) continue;
    ++den;
    if (r.transition_adherent) ++num;
  }
  return MakeKpiResult(rules.kpis(), id, num, den, rules.version());
}

}  // namespace

KpiResult Kpi1AllocatedCluster(const RuleSet& rules, std::span<const CaseloadRecord> cases) {
  int64_t num = 0;
  for (const auto& c : cases) {
    if (!HasValidCluster(c)) continue;
    const ClusterInfo* info = rules.FindCluster(*c.cluster);
    if (info != nullptr && info->used_in_secondary_care) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI1", num, static_cast<int64_t>(cases.size()), rules.version());
}

KpiResult Kpi2ReviewedWithinPeriod(const RuleSet& rules, std::span<const CaseloadRecord> cases,
                                   absl::CivilDay as_of, ReviewPolicy policy) {
  int64_t num = 0, den = 0;
  for (const auto& c : cases) {
    if (!HasValidCluster(c)) continue;
    ++den;
    if (!c.latest_mhct.has_value()) continue;
    auto due = ComputeReviewDue(rules.review_periods(), *c.cluster, *c.latest_mhct, policy);
    if (due.ok() && IsWithinReviewPeriod(*due, as_of)) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI2", num, den, rules.version());
}

KpiResult Kpi3ServiceArea(const RuleSet& rules, std::span<const CaseloadRecord> cases) {
  int64_t num = 0, den = 0;
  for (const auto& c : cases) {
    if (!HasValidCluster(c)) continue;
    ++den;
    auto d = CheckServiceArea(rules.service_areas(), c.service_area, *c.cluster);
    if (d.ok() && d->appropriate()) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI3", num, den, rules.version());
}

KpiResult Kpi4InitialContacts(const RuleSet& rules, std::span<const InitialAssessmentRecord> records) {
  const KpiSettings& k = rules.kpis();
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    if (!r.allocated) continue;
    ++den;
    const bool ok = r.admitted ? r.bed_nights_to_allocation <= k.max_initial_bed_nights
                               : r.face_to_face_contacts_to_allocation <= k.max_initial_contacts;
    if (ok) ++num;
  }
  return MakeKpiResult(k, "KPI4", num, den, rules.version());
}

KpiResult Kpi5ContactsWithinDays(const RuleSet& rules, std::span<const InitialAssessmentRecord> records,
                                 absl::CivilDay as_of) {
  const KpiSettings& k = rules.kpis();
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    const int limit = r.memory_assessment ? k.memory_initial_contacts_days : k.initial_contacts_days;
    const absl::CivilDay deadline = r.clock_start + limit;
    if (r.second_contact.has_value()) {
      ++den;
      if (*r.second_contact <= deadline) ++num;
    } else if (as_of > deadline) {
      ++den;  // late and still not done
    }
  }
  return MakeKpiResult(k, "KPI5", num, den, rules.version());
}

KpiResult Kpi6RedRules(const RuleSet& rules, std::span<const InitialAssessmentRecord> records) {
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    if (!r.allocated) continue;
    ++den;
    if (r.red_rules_met) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI6", num, den, rules.version());
}

KpiResult Kpi7FormalReviewOnTime(const RuleSet& rules, std::span<const FormalReviewRecord> records,
                                 absl::CivilDay as_of) {
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    if (r.reviewed_on.has_value()) {
      ++den;
      if (*r.reviewed_on >= r.window_opens && *r.reviewed_on <= r.due) ++num;
    } else if (as_of > r.due) {
      ++den;
    }
  }
  return MakeKpiResult(rules.kpis(), "KPI7", num, den, rules.version());
}

KpiResult Kpi8FormalReviewAdherence(const RuleSet& rules, std::span<const FormalReviewRecord> records) {
  return AdherenceKpi(rules, "KPI8", records, [](const FormalReviewRecord& r) { return r.reviewed_on.has_value(); });
}

namespace {

// Reviewed inside the trigger window; unreviewed ones count against once the deadline has passed.
template <typename Record, typename EventOf>
std::pair<int64_t, int64_t> InTriggerWindow(const KpiSettings& k, std::span<const Record> records,
                                            absl::Time as_of, absl::TimeZone clinical,
                                            const std::function<std::optional<ReviewTriggerKind>(const Record&)>& kind_of,
                                            EventOf event_of) {
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    const std::optional<ReviewTriggerKind> kind = kind_of(r);
    if (!kind.has_value()) continue;
    const ReviewTriggerWindow w = TriggerWindow(k, *kind, event_of(r), clinical);
    if (r.reviewed_at.has_value()) {
      ++den;
      if (MeetsTrigger(w, *r.reviewed_at)) ++num;
    } else if (TriggerMissed(w, as_of)) {
      ++den;
    }
  }
  return {num, den};
}

KpiResult TransferTiming(const RuleSet& rules, std::string_view id, std::span<const TransferRecord> records,
                         absl::Time as_of, absl::TimeZone clinical, bool out_of_hours) {
  auto [num, den] = InTriggerWindow<TransferRecord>(
      rules.kpis(), records, as_of, clinical,
      [&](const TransferRecord& r) -> std::optional<ReviewTriggerKind> {
        if (r.out_of_hours != out_of_hours) return std::nullopt;
        return out_of_hours ? ReviewTriggerKind::kOutOfHoursReferral : ReviewTriggerKind::kInHoursReferral;
      },
      [](const TransferRecord& r) { return r.referral; });
  return MakeKpiResult(rules.kpis(), id, num, den, rules.version());
}

}  // namespace

KpiResult Kpi9TransferInHours(const RuleSet& rules, std::span<const TransferRecord> records, absl::Time as_of,
                              absl::TimeZone clinical) {
  return TransferTiming(rules, "KPI9", records, as_of, clinical, false);
}

KpiResult Kpi10TransferOutOfHours(const RuleSet& rules, std::span<const TransferRecord> records,
                                  absl::Time as_of, absl::TimeZone clinical) {
  return TransferTiming(rules, "KPI10", records, as_of, clinical, true);
}

KpiResult Kpi11TransferAdherence(const RuleSet& rules, std::span<const TransferRecord> records) {
  return AdherenceKpi(rules, "KPI11", records, [](const TransferRecord& r) { return r.reviewed_at.has_value(); });
}

KpiResult Kpi12DischargeOnTime(const RuleSet& rules, std::span<const DischargeRecord> records,
                               absl::Time as_of, absl::TimeZone clinical) {
  auto [num, den] = InTriggerWindow<DischargeRecord>(
      rules.kpis(), records, as_of, clinical,
      [](const DischargeRecord&) -> std::optional<ReviewTriggerKind> { return ReviewTriggerKind::kDischargeReview; },
      [](const DischargeRecord& r) { return r.discharge_review; });
  return MakeKpiResult(rules.kpis(), "KPI12", num, den, rules.version());
}

KpiResult Kpi13DischargeAdherence(const RuleSet& rules, std::span<const DischargeRecord> records) {
  return AdherenceKpi(rules, "KPI13", records, [](const DischargeRecord& r) { return r.reviewed_at.has_value(); });
}

NationalReviewMeasures ComputeNationalReviewMeasures(const RuleSet& rules,
                                                     std::span<const CaseloadRecord> cases,
                                                     absl::CivilDay period_end) {
  NationalReviewMeasures m;
  m.rule_version = rules.version();
  for (const auto& c : cases) {
    if (!HasValidCluster(c)) continue;
    ++m.acc33;
    if (!c.latest_mhct.has_value()) continue;
    auto due = ComputeReviewDue(rules.review_periods(), *c.cluster, *c.latest_mhct, ReviewPolicy::kNational);
    if (due.ok() && IsWithinReviewPeriod(*due, period_end)) ++m.acc36;
  }
  m.acc37 = MakeKpiResult(rules.kpis(), "ACC37", m.acc36, m.acc33, rules.version());
  return m;
}

}  // namespace care
