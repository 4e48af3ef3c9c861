// The caseload projection's person record: how it is read, and which review announcement it shows;
// the keys and day numbers of its families.
#include "person_record.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "caseload.h"
#include "platform/events.h"

namespace pbr::reporting {

using platform::FromProto;
using pbr::state::v1::ReportingPerson;

absl::StatusOr<ReportingPerson> LoadPerson(const platform::StoreReader& store, absl::string_view person_id) {
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  ReportingPerson p;
  auto stored = store.Get(kCaseloadPersonsFamily, person_id);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && !p.ParseFromString(**stored)) return absl::DataLossError("stored person is unreadable");
  return p;
}


// A review is identified by its basis, the basis's MHCT date and its cluster (the scheduler's
// contract, proto/pbr/v1/events.proto ReviewDue): an amended basis with a new date or cluster is
// another review though its id is unchanged.
bool SameReview(const pbr::v1::ReviewDue& a, const pbr::v1::ReviewDue& b) {
  return a.basis_assessment_id() == b.basis_assessment_id() && a.cluster() == b.cluster() &&
         a.has_latest_mhct_date() == b.has_latest_mhct_date() &&
         (!a.has_latest_mhct_date() || FromProto(a.latest_mhct_date()) == FromProto(b.latest_mhct_date()));
}


// A record written by a build that kept only the person's last announcement (fields 8-11) has that
// one, without a due date, until the next announcement moves it into `reviews`.
std::optional<pbr::v1::ReviewDue> LegacyReview(const ReportingPerson& p) {
  if (p.reviews_size() > 0 || p.review_basis_assessment_id().empty()) return std::nullopt;
  pbr::v1::ReviewDue r;
  r.set_basis_assessment_id(p.review_basis_assessment_id());
  r.set_state(p.review_state());
  if (p.has_review_mhct_date()) *r.mutable_latest_mhct_date() = p.review_mhct_date();
  r.set_cluster(p.review_cluster());
  return r;
}


// The announcement the caseload shows: the last one for the person's current review basis (the
// latest live assessment of the open referral period, as the ledger derives it: its id, MHCT date
// and cluster, the current episode's being the basis's), if any. None: the review is UPCOMING, as
// the scheduler holds it, for it announces every other state.
std::optional<pbr::v1::ReviewDue> HonouredReview(const ReportingPerson& p) {
  if (p.latest_assessment_id().empty() || !p.has_latest_assessed_at()) return std::nullopt;
  pbr::v1::ReviewDue basis;
  basis.set_basis_assessment_id(p.latest_assessment_id());
  *basis.mutable_latest_mhct_date() = platform::ToProto(platform::ClinicalDay(FromProto(p.latest_assessed_at())));
  basis.set_cluster(p.cluster());
  for (const pbr::v1::ReviewDue& r : p.reviews()) {
    if (SameReview(r, basis)) return r;
  }
  std::optional<pbr::v1::ReviewDue> legacy = LegacyReview(p);
  if (legacy.has_value() && SameReview(*legacy, basis)) return legacy;
  return std::nullopt;
}

std::string TeamIndexKey(absl::string_view team_id, absl::string_view person_id) {
  return absl::StrCat(team_id, std::string(1, kKeySeparator), person_id);
}

std::string ReviewIndexKey(int32_t due_day, absl::string_view person_id) {
  return absl::StrCat(absl::StrFormat("%08d", due_day + kReviewDayBias), std::string(1, kKeySeparator), person_id);
}

std::optional<int32_t> DueDayOfReviewKey(absl::string_view key) {
  int32_t biased = 0;
  if (key.size() < 9 || key[8] != kKeySeparator || !absl::SimpleAtoi(key.substr(0, 8), &biased)) return std::nullopt;
  return biased - kReviewDayBias;
}

std::string TeamIndexPrefix(absl::string_view team_id) { return absl::StrCat(team_id, std::string(1, kKeySeparator)); }

std::string ClusterCountsKey(absl::string_view team_id, absl::string_view care_coordinator_id, int cluster) {
  return absl::StrCat(ClusterCountsPrefix(team_id, care_coordinator_id), absl::StrFormat("%02d", cluster));
}

std::string ClusterCountsPrefix(absl::string_view team_id, absl::string_view care_coordinator_id) {
  const std::string sep(1, kKeySeparator);
  if (care_coordinator_id.empty()) return absl::StrCat(team_id, sep);
  return absl::StrCat(team_id, sep, care_coordinator_id, sep);
}

std::optional<int> ClusterOfCountsKey(absl::string_view key) {
  const size_t at = key.rfind(kKeySeparator);
  int cluster = 0;
  if (at == absl::string_view::npos || !absl::SimpleAtoi(key.substr(at + 1), &cluster)) return std::nullopt;
  return cluster;
}

std::string QualityKey(absl::string_view team_id, absl::string_view clinician_id) {
  return absl::StrCat(QualityPrefix(team_id), clinician_id);
}

std::string QualityPrefix(absl::string_view team_id) { return absl::StrCat(team_id, std::string(1, kKeySeparator)); }

std::string AssessmentDetailsKey(absl::string_view person_id, absl::string_view assessment_id) {
  return absl::StrCat(person_id, "/", assessment_id);
}

namespace {
const absl::CivilDay kDayZero(1970, 1, 1);
}  // namespace

int32_t DayNumber(absl::CivilDay day) { return static_cast<int32_t>(day - kDayZero); }

}  // namespace pbr::reporting
