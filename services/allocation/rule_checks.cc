#include "rule_checks.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ledger_kinds.h"
#include "platform/events.h"
#include "platform/quote.h"

namespace pbr::allocation {
namespace {

std::string ClusterList(const std::set<int>& clusters) { return absl::StrJoin(clusters, ", "); }

}  // namespace

bool CheckedAsInitial(const pbr::v1::RecordAssessmentRequest& r, const AllocationFacts& facts) {
  return !IsReview(r.reason()) || !facts.from_cluster.has_value();
}

CheckResult CheckAllocation(const care::RuleSet& rules, const pbr::v1::RecordAssessmentRequest& r,
                            const care::MhctRatings& ratings, const AllocationFacts& facts) {
  CheckResult out;
  std::vector<std::string> breaches;
  const bool has_rationale = !r.clinical_rationale().empty();

  if (auto red = rules.CheckRedRules(r.cluster(), ratings); red.ok()) {
    auto& c = out.checks.emplace_back();
    c.set_rule("red-rules");
    c.set_passed(red->met);
    c.set_reason(red->explanation);
    c.set_rule_version(red->rule_version);
    if (!red->met) breaches.push_back(absl::StrCat("the ratings break cluster ", r.cluster(), "'s red rules (", red->explanation, ")"));
  }

  std::string area_refusal;
  if (!r.service_area().empty()) {
    if (auto area = rules.CheckServiceArea(r.service_area(), r.cluster()); area.ok()) {
      auto& c = out.checks.emplace_back();
      c.set_rule("service-area");
      c.set_passed(area->appropriate());
      c.set_flagged(area->flagged());
      c.set_reason(area->reason);
      c.set_rule_version(area->rule_version);
      if (const care::ServiceArea* a = rules.service_areas().Find(r.service_area())) {
        std::set<int> allowed = a->allowed;
        allowed.insert(a->rarely.begin(), a->rarely.end());
        for (int k : allowed) c.add_expected_clusters(k);
        if (!area->appropriate()) {
          area_refusal = absl::StrCat("service_area: cluster ", r.cluster(), " is not held by ",
                                      platform::Quote(r.service_area()), " (allowed: ", ClusterList(allowed),
                                      "); give a clinical_rationale to record it anyway");
        }
      }
    }
  }

  const care::ServiceArea* area = rules.service_areas().Find(r.service_area());
  const bool acute_pathway = area != nullptr && area->acute_pathway;
  if (CheckedAsInitial(r, facts)) {
    if (IsReview(r.reason())) {
      // SOP 4.5: with no cluster to review from, the initial-allocation rules are the ones that apply.
      auto& c = out.checks.emplace_back();
      c.set_rule("initial-allocation");
      c.set_passed(true);
      c.set_reason("The platform holds no cluster for this person, so this review was checked with the "
                   "initial-allocation rules (red rules, service area, clusters not used at a first "
                   "presentation or for a returning patient) and not with the transition protocol.");
      c.set_rule_version(rules.version());
    }
    // Clusters never used at a first presentation, for a returning patient, or on the acute pathway.
    // An initial allocation is a first presentation unless an earlier referral period was closed.
    const std::string problem = care::ClusterRestrictionProblem(rules.transitions(), r.cluster(),
                                                                /*first_presentation=*/!facts.returning_patient,
                                                                acute_pathway, facts.returning_patient);
    auto& c = out.checks.emplace_back();
    c.set_rule("cluster-restriction");
    c.set_passed(problem.empty());
    c.set_reason(problem.empty() ? "no restriction applies to this cluster here" : problem);
    c.set_rule_version(rules.version());
    if (!problem.empty()) breaches.push_back(problem);
  } else {
    care::TransitionQuery q;
    q.from_cluster = *facts.from_cluster;
    q.to_cluster = r.cluster();
    q.change = services::ChangeClassOf(r.change_class());
    q.review_date = platform::ClinicalDay(platform::FromProto(r.assessed_at()));
    q.from_cluster_start = facts.from_cluster_start;
    q.cluster_before_from = facts.cluster_before_from;
    q.acute_pathway = acute_pathway;
    q.history = facts.history;
    if (auto t = rules.CheckTransition(q); t.ok()) {
      auto& c = out.checks.emplace_back();
      c.set_rule("transition-protocol");
      c.set_passed(t->adherent());
      c.set_reason(t->reason);
      c.set_rule_version(t->rule_version);
      for (int k : t->expected) c.add_expected_clusters(k);
      if (!t->adherent()) breaches.push_back(t->reason);
      // The SOP's guidance beside the table reaches the clinician and the record, but never refuses.
      for (const care::AdvisoryCheck& a : t->advisory_checks) {
        if (!a.applies) continue;
        auto& g = out.checks.emplace_back();
        g.set_rule(absl::StrCat("advisory:", a.id));
        g.set_advisory(true);
        g.set_passed(a.passed());
        g.set_reason(a.reason.empty() ? a.text : a.reason);
        g.set_rule_version(t->rule_version);
      }
    }
  }

  if (!has_rationale) {
    if (!area_refusal.empty()) {
      out.refusal = absl::FailedPreconditionError(area_refusal);
    } else if (!breaches.empty()) {
      out.refusal = absl::FailedPreconditionError(
          absl::StrCat("clinical_rationale: required to record this allocation: ", absl::StrJoin(breaches, "; ")));
    }
  }
  return out;
}

std::vector<pbr::v1::ClusterSuggestion> ToSuggestions(const care::RuleSet& rules, const care::SuggestionResult& result,
                                                      const care::ServiceArea* only_in_area, size_t max_ranked) {
  // Every service area of the platform is secondary care: clusters the trust does not use there
  // (1-3) are never offered, whatever their fit.
  auto in_area = [&](int cluster) {
    const care::ClusterInfo* info = rules.FindCluster(cluster);
    if (info == nullptr || !info->used_in_secondary_care) return false;
    return only_in_area == nullptr || only_in_area->allowed.count(cluster) || only_in_area->rarely.count(cluster);
  };
  std::vector<pbr::v1::ClusterSuggestion> out;
  auto add = [&](const care::ClusterSuggestion& s) {
    auto& o = out.emplace_back();
    o.set_cluster(s.cluster);
    o.set_fit(s.fit);
    o.set_excluded(s.excluded);
    o.set_explanation(s.explanation);
    for (const auto& b : s.broken) o.add_broken_items(b.text);
  };
  size_t ranked = 0;
  for (const auto& s : result.ranked) {
    if (ranked < max_ranked && in_area(s.cluster)) {
      add(s);
      ++ranked;
    }
  }
  for (const auto& s : result.excluded) {
    if (in_area(s.cluster)) add(s);
  }
  return out;
}

}  // namespace pbr::allocation
