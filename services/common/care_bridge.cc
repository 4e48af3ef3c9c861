#include "care_bridge.h"

#include "absl/strings/str_cat.h"
#include "platform/quote.h"

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

}  // namespace pbr::services
