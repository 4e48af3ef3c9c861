#pragma once
// The outcomes projection: each person's HoNOS outcomes per assessment and per episode (referral period),
// and the summaries over episodes by team, cluster, commissioner and super-class. It reads
// assessment-recorded (the ratings and the ledger facts) and care-event-recorded (referrals and
// discharges, which draw the episodes), derives the person afresh by outcome_view.h, announces on
// outcome-recorded every assessment whose measures changed, and moves the person's contribution to the
// summaries (tallies.h), all in the message's one batch.
//
// Families: "episode_outcomes_ledger" (ledger facts, services/common/ledger_store.h),
// "episode_outcomes_ratings" (OutcomeRatings), "episode_outcomes_people" (OutcomesPerson),
// "episode_outcomes_tallies" (OutcomeTallyRecord).
#include <memory>
#include <string>
#include <vector>

#include "care/rules.h"
#include "ledger/ledger.h"
#include "projections/episode_outcomes/outcome_view.h"
#include "pbr/v1/outcomes.pb.h"
#include "platform/consumer.h"
#include "platform/projection.h"
#include "platform/store.h"

namespace pbr::outcomes {

inline constexpr absl::string_view kLedgerFamily = "episode_outcomes_ledger";
inline constexpr absl::string_view kRatingsFamily = "episode_outcomes_ratings";
inline constexpr absl::string_view kPeopleFamily = "episode_outcomes_people";
std::vector<std::string> EpisodeOutcomesFamilies();

// A person's view as stored leaves out the rules' names of items and factors; reading puts them back.
void ForgetNames(pbr::v1::PersonOutcomes& view);
void RestoreNames(const care::RuleSet& rules, pbr::v1::PersonOutcomes& view);

class EpisodeOutcomes final : public platform::Projection {
 public:
  explicit EpisodeOutcomes(std::shared_ptr<const care::RuleSet> rules) : rules_(std::move(rules)) {}

  absl::string_view name() const override { return "episode_outcomes"; }
  // assessment-recorded and care-event-recorded.
  std::vector<std::string> topics() const override;
  std::vector<std::string> families() const override { return EpisodeOutcomesFamilies(); }
  absl::Status Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const override;
  // "rules <version>; tallies by partition": the outcome rules (valid ratings, factors, reliable change, expected patterns) and
  // the clusters' super classes the stored measures and summaries are derived with, and the summaries'
  // rows kept per consumed partition (a store from before that is rebuilt, not misread).
  std::string derivation() const override;

  // A new assessment, an amendment (higher revision) or a withdrawal; a stale revision changes nothing.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // A referral, discharge or other care event: it may open or close an episode and so re-pair ratings.
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;

 private:
  absl::Status Recompute(platform::ApplyContext& ctx, const platform::ConsumedEvent& cause,
                         const std::string& person_id, const ledger::PersonFacts& facts,
                         const RatingsById& ratings) const;
  std::shared_ptr<const care::RuleSet> rules_;
};

}  // namespace pbr::outcomes
