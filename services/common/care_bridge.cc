#include "care_bridge.h"

#include "absl/strings/str_cat.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/quote.h"
#include "platform/service_host.h"

namespace pbr::services {

absl::StatusOr<care::MhctRatings> RatingsFromProto(const pbr::v1::MhctRatings& ratings) {
  if (ratings.items_size() != care::kMhctItemCount) {
    return absl::InvalidArgumentError(absl::StrCat("ratings.items: expected ", care::kMhctItemCount,
                                                   " ratings (items 1-13 and A-E), got ", ratings.items_size()));
  }
  care::MhctRatings out;
  for (int i = 0; i < care::kMhctItemCount; ++i) out.items[i] = ratings.items(i);
  if (ratings.item8_problem_type().size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("ratings.item8_problem_type: ",
                                                   platform::Quote(ratings.item8_problem_type()),
                                                   " is not a single letter A-J"));
  }
  out.item8_problem_type = ratings.item8_problem_type().empty() ? 0 : ratings.item8_problem_type()[0];
  out.item8_other_text = ratings.item8_other_text();
  return out;
}

pbr::v1::MhctRatings RatingsToProto(const care::MhctRatings& ratings) {
  pbr::v1::MhctRatings out;
  for (int v : ratings.items) out.add_items(v);
  if (ratings.item8_problem_type != 0) out.set_item8_problem_type(std::string(1, ratings.item8_problem_type));
  out.set_item8_other_text(ratings.item8_other_text);
  return out;
}

absl::StatusOr<std::shared_ptr<const care::RuleSet>> LoadRules(const std::string& rules_dir) {
  auto rules = care::RuleSet::LoadFromDirectory(rules_dir);
  if (!rules.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rules-dir '", rules_dir, "' does not hold a valid rule set:\n", rules.status().message()));
  }
  return std::make_shared<const care::RuleSet>(*std::move(rules));
}

absl::Status ReportRules(const care::RuleSet& rules, platform::Metrics& metrics) {
  const bool example = rules.profiles().example;
  if (example) {
    // Loud on purpose: the shipped grid was invented to exercise the software, and a deployment that
    // forgot to replace it would rank clusters and check red rules against made-up cells.
    PBR_LOG(warn) << "rules " << rules.version() << ": the scoring profiles are an EXAMPLE, not a trust's grid ("
                  << rules.profiles().version << ": " << rules.profiles().label
                  << "): cluster suggestions and red-rule checks are for demonstration only; before clinical use "
                  << "point scoring_profiles in the rules manifest at the trust's grid from the national "
                  << "clustering booklet";
  } else {
    PBR_LOG(info) << "rules " << rules.version() << ": scoring profiles " << rules.profiles().version;
  }
  return metrics.SetInfo(kRulesInfoMetric,
                         "1 for the rule set this process runs: its version, and whether its scoring profiles are "
                         "the shipped example (suggestions and red-rule checks for demonstration only)",
                         {{"rule_version", rules.version()}, {"example_profiles", example ? "true" : "false"}});
}

absl::StatusOr<std::shared_ptr<const care::RuleSet>> LoadRulesFor(platform::ServiceHost& host) {
  auto rules = LoadRules(host.config().GetString("rules-dir"));
  if (!rules.ok()) return rules.status();
  if (auto st = ReportRules(**rules, host.metrics()); !st.ok()) return st;
  return rules;
}

}  // namespace pbr::services
