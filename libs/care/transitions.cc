#include "care/transitions.h"
#include "internal.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "care/catalogue.h"

namespace care {
namespace {

std::string ClusterList(const std::set<int>& s) {
  if (s.empty()) return "none";
  return absl::StrJoin(s, ", ");
}

std::string_view ChangeWords(ChangeClass c) {
  switch (c) {
    case ChangeClass::kImprovement: return "improvement";
    case ChangeClass::kNoChange: return "minimal or no change";
    case ChangeClass::kDeterioration: return "deterioration";
    case ChangeClass::kChangeInDiagnosis: return "a change in diagnosis";
  }
  return "?";
}

}  // namespace

std::string_view ChangeClassName(ChangeClass c) {
  switch (c) {
    case ChangeClass::kImprovement: return "improvement";
    case ChangeClass::kNoChange: return "no_change";
    case ChangeClass::kDeterioration: return "deterioration";
    case ChangeClass::kChangeInDiagnosis: return "change_in_diagnosis";
  }
  return "?";
}

absl::StatusOr<ChangeClass> ParseChangeClass(std::string_view name) {
  std::string n = internal::Lower(internal::Strip(name));
  if (n == "improvement") return ChangeClass::kImprovement;
  if (n == "no_change") return ChangeClass::kNoChange;
  if (n == "deterioration") return ChangeClass::kDeterioration;
  if (n == "change_in_diagnosis") return ChangeClass::kChangeInDiagnosis;
  return absl::InvalidArgumentError(internal::Cat(
      "change class \"", name,
      "\" is not improvement, no_change, deterioration or change_in_diagnosis"));
}

std::string_view HistoryTriggerName(HistoryTrigger t) {
  switch (t) {
    case HistoryTrigger::kCrhtReferral: return "crht_referral";
    case HistoryTrigger::kInpatientReferral: return "inpatient_referral";
    case HistoryTrigger::kAdmission: return "admission";
    case HistoryTrigger::kMhaAssessment: return "mha_assessment";
    case HistoryTrigger::kMedicationNonConcordance: return "medication_non_concordance";
  }
  return "?";
}

absl::StatusOr<HistoryTrigger> ParseHistoryTrigger(std::string_view name) {
  std::string n = internal::Lower(internal::Strip(name));
  if (n == "crht_referral") return HistoryTrigger::kCrhtReferral;
  if (n == "inpatient_referral") return HistoryTrigger::kInpatientReferral;
  if (n == "admission") return HistoryTrigger::kAdmission;
  if (n == "mha_assessment") return HistoryTrigger::kMhaAssessment;
  if (n == "medication_non_concordance") return HistoryTrigger::kMedicationNonConcordance;
  return absl::InvalidArgumentError(internal::Cat(
      "history trigger \"", name,
      "\" is not crht_referral, inpatient_referral, admission, mha_assessment or medication_non_concordance"));
}

std::string_view PriorClusterReadingName(PriorClusterReading r) {
  switch (r) {
    case PriorClusterReading::kEither: return "either";
    case PriorClusterReading::kSame: return "same";
  }
  return "?";
}

absl::StatusOr<PriorClusterReading> ParsePriorClusterReading(std::string_view name) {
  std::string n = internal::Lower(internal::Strip(name));
  if (n == "either") return PriorClusterReading::kEither;
  if (n == "same") return PriorClusterReading::kSame;
  return absl::InvalidArgumentError(internal::Cat("reading \"", name, "\" is not either or same"));
}

std::string_view AdvisoryMoveName(AdvisoryMove m) {
  switch (m) {
    case AdvisoryMove::kToOtherCluster: return "to_other_cluster";
    case AdvisoryMove::kToLowerNumbered: return "to_lower_numbered";
  }
  return "?";
}

absl::StatusOr<AdvisoryMove> ParseAdvisoryMove(std::string_view name) {
  std::string n = internal::Lower(internal::Strip(name));
  if (n == "to_other_cluster") return AdvisoryMove::kToOtherCluster;
  if (n == "to_lower_numbered") return AdvisoryMove::kToLowerNumbered;
  return absl::InvalidArgumentError(
      internal::Cat("move \"", name, "\" is not to_other_cluster or to_lower_numbered"));
}

std::string_view AdvisoryTestName(AdvisoryTest t) {
  switch (t) {
    case AdvisoryTest::kTimeOnCluster: return "time_on_cluster";
    case AdvisoryTest::kFlag: return "flag";
  }
  return "?";
}

absl::StatusOr<AdvisoryTest> ParseAdvisoryTest(std::string_view name) {
  std::string n = internal::Lower(internal::Strip(name));
  if (n == "time_on_cluster") return AdvisoryTest::kTimeOnCluster;
  if (n == "flag") return AdvisoryTest::kFlag;
  return absl::InvalidArgumentError(internal::Cat("check \"", name, "\" is not time_on_cluster or flag"));
}

std::string ClusterRestrictionProblem(const TransitionRules& rules, int cluster, bool first_presentation,
                                      bool acute_pathway, bool returning_patient) {
  for (const auto& r : rules.restrictions) {
    if (r.cluster != cluster) continue;
    if (first_presentation && r.not_at_first_presentation) {
      return internal::Cat("Cluster ", cluster,
                          " is not used for a first presentation to secondary care.");
    }
    if (acute_pathway && r.not_on_acute_pathway) {
      return internal::Cat("Cluster ", cluster,
                          " is not used on the acute pathway (home treatment or inpatients).");
    }
    if (returning_patient && r.not_for_returning_patient) {
      return internal::Cat("Cluster ", cluster,
                          " is not used for a patient returning to secondary mental health services.");
    }
  }
  return "";
}

namespace {

// "improvement with a move to another cluster", "a move to a lower-numbered cluster (to 18, 19, 20 or 21)".
std::string MoveWords(const TransitionAdvisory& a) {
  std::vector<std::string> classes;
  for (ChangeClass c : a.change_classes) classes.emplace_back(ChangeWords(c));
  std::string out = a.change_classes.size() == kChangeClassCount
                        ? std::string("a move")
                        : internal::Cat(absl::StrJoin(classes, " or "), " with a move");
  internal::Append(&out, a.move == AdvisoryMove::kToOtherCluster ? " to another cluster"
                                                                 : " to a lower-numbered cluster");
  if (!a.to_clusters.empty()) internal::Append(&out, " (one of ", ClusterList(a.to_clusters), ")");
  return out;
}

AdvisoryCheck EvaluateAdvisory(const TransitionAdvisory& a, const TransitionQuery& q) {
  AdvisoryCheck c;
  c.id = a.id;
  c.text = a.text;
  const bool moves = a.move == AdvisoryMove::kToOtherCluster ? q.to_cluster != q.from_cluster
                                                            : q.to_cluster < q.from_cluster;
  c.applies = a.change_classes.count(q.change) > 0 && moves &&
              (a.to_clusters.empty() || a.to_clusters.count(q.to_cluster) > 0);
  const std::string move = internal::Cat("Cluster ", q.from_cluster, " to ", q.to_cluster, " after ",
                                        ChangeWords(q.change));
  if (!c.applies) {
    c.met = true;
    c.reason = internal::Cat(move, ": does not apply (it concerns ", MoveWords(a), ").");
    return c;
  }
  switch (a.test) {
    case AdvisoryTest::kFlag:
      c.met = false;
      c.reason = internal::Cat(move, a.move == AdvisoryMove::kToOtherCluster ? " moves to another cluster"
                                                                          : " moves to a lower-numbered cluster",
                              ": ", a.text);
      break;
    case AdvisoryTest::kTimeOnCluster: {
      const std::string period = FormatPeriod(a.min_time_on_cluster);
      if (!q.from_cluster_start.has_value()) {
        c.met = false;
        c.reason = internal::Cat(move, ": the day the person started on cluster ", q.from_cluster,
                                " is not known, so ", period, " on it before the move cannot be confirmed.");
        break;
      }
      const absl::CivilDay reached = AddPeriod(*q.from_cluster_start, a.min_time_on_cluster);
      c.met = reached <= q.review_date;
      c.reason = internal::Cat(
          move, ": on cluster ", q.from_cluster, " since ", absl::FormatCivilTime(*q.from_cluster_start),
          c.met ? internal::Cat(", at least ", period, " by the review on ", absl::FormatCivilTime(q.review_date),
                                ".")
                : internal::Cat(", less than ", period, " by the review on ", absl::FormatCivilTime(q.review_date),
                                " (", period, " is reached on ", absl::FormatCivilTime(reached), ")."));
      break;
    }
  }
  return c;
}

}  // namespace

absl::StatusOr<TransitionDecision> CheckTransition(const TransitionRules& rules,
                                                   const TransitionQuery& q) {
  if (!IsValidClusterId(q.from_cluster)) {
    return absl::InvalidArgumentError(internal::Cat(
        "from_cluster: ", q.from_cluster, " is not a valid cluster (0-21, never 9)"));
  }
  if (!IsValidClusterId(q.to_cluster)) {
    return absl::InvalidArgumentError(internal::Cat(
        "to_cluster: ", q.to_cluster, " is not a valid cluster (0-21, never 9)"));
  }
  auto row = rules.rows.find(q.from_cluster);
  if (row == rules.rows.end()) {
    return absl::NotFoundError(internal::Cat("from_cluster: the transition table has no row for cluster ",
                                            q.from_cluster));
  }
  TransitionDecision d;
  d.rule_version = rules.version;
  d.expected = row->second.expected[static_cast<int>(q.change)];

  // Time on the from-cluster.
  if (q.from_cluster_start.has_value()) {
    for (const auto& r : rules.time_on_cluster) {
      if (r.from != q.from_cluster || !r.change_classes.count(q.change)) continue;
      if (AddPeriod(*q.from_cluster_start, r.after) <= q.review_date) {
        d.expected = r.expected;
        d.applied_rules.push_back(
            r.text.empty() ? internal::Cat("After ", FormatPeriod(r.after), " on cluster ", r.from,
                                          " the person moves to ", ClusterList(r.expected), ".")
                           : r.text);
      }
    }
  }
  // The acute-event rule: step up from 11, stay on 12 or 13.
  for (const auto& r : rules.step_up) {
    if (!r.from.count(q.from_cluster) || !r.change_classes.count(q.change)) continue;
    const absl::CivilDay window_start = AddPeriodTimes(q.review_date, r.within, -1);
    const HistoryEvent* hit = nullptr;
    for (const auto& e : q.history) {
      if (r.triggers.count(e.kind) && e.date >= window_start && e.date <= q.review_date) {
        hit = &e;
        break;
      }
    }
    if (hit == nullptr) continue;
    d.expected = r.expected;
    d.applied_rules.push_back(internal::Cat(
        r.text.empty() ? internal::Cat("Acute-event rule: expected ", ClusterList(r.expected), ".") : r.text,
        " (", HistoryTriggerName(hit->kind), " on ", absl::FormatCivilTime(hit->date), ", within ",
        FormatPeriod(r.within), " of the review)"));
  }
  // Return to a cluster held before a crisis.
  std::string prior_problem;
  for (const auto& r : rules.prior_cluster) {
    if (!r.from.count(q.from_cluster)) continue;
    const bool was_on_one = q.cluster_before_from.has_value() && r.to.count(*q.cluster_before_from) > 0;
    for (int c : r.to) {
      if (!d.expected.count(c)) continue;
      const bool allowed = r.reading == PriorClusterReading::kEither
                               ? was_on_one
                               : q.cluster_before_from.has_value() && *q.cluster_before_from == c;
      if (allowed) continue;
      d.expected.erase(c);
      if (c == q.to_cluster) {
        const std::string needed = r.reading == PriorClusterReading::kEither
                                       ? internal::Cat("on cluster ", absl::StrJoin(r.to, " or "))
                                       : internal::Cat("on cluster ", c);
        prior_problem = internal::Cat(
            "Cluster ", c, " may follow cluster ", q.from_cluster, " only when the person was ", needed,
            " immediately before it",
            q.cluster_before_from.has_value()
                ? internal::Cat(" (they were on ", *q.cluster_before_from, ").")
                : std::string(" (the previous cluster is not known)."));
      }
    }
    if (!r.text.empty()) d.applied_rules.push_back(r.text);
  }
  // Clusters never used at first presentation, on the acute pathway or for a returning patient.
  std::string restriction_problem;
  for (const auto& r : rules.restrictions) {
    std::string why = ClusterRestrictionProblem(rules, r.cluster, q.first_presentation, q.acute_pathway,
                                                q.returning_patient);
    if (why.empty()) continue;
    if (d.expected.erase(r.cluster) > 0) d.applied_rules.push_back(why);
    if (r.cluster == q.to_cluster) restriction_problem = why;
  }
  // Advisories: evaluated and recorded, never a refusal.
  for (const auto& a : rules.advisories) {
    if (!a.clusters.count(q.from_cluster)) continue;
    d.advisories.push_back(a.text);
    d.advisory_checks.push_back(EvaluateAdvisory(a, q));
  }

  const bool adherent = d.expected.count(q.to_cluster) > 0;
  d.adherence = adherent ? Adherence::kAdherent : Adherence::kNonAdherent;
  const std::string move = internal::Cat("Cluster ", q.from_cluster, " to ", q.to_cluster, " after ",
                                        ChangeWords(q.change));
  if (adherent) {
    d.reason = internal::Cat(move, " follows the transition protocol (expected: ",
                            ClusterList(d.expected), ").");
  } else {
    std::string why = !restriction_problem.empty() ? restriction_problem
                      : !prior_problem.empty()     ? prior_problem
                      : d.expected.empty()
                          ? internal::Cat("The protocol lists no cluster after ", ChangeWords(q.change),
                                         " from cluster ", q.from_cluster, ".")
                          : internal::Cat("The protocol expects ", ClusterList(d.expected), ".");
    d.reason = internal::Cat(move, " does not follow the transition protocol. ", why,
                            " Record a clinical rationale.");
  }
  return d;
}

}  // namespace care
