#include "field_rules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "care/catalogue.h"
#include "care/mhct.h"
#include "care_bridge.h"
#include "platform/events.h"

namespace pbr::services {

bool IsReview(pbr::v1::AssessmentReason reason) {
  return reason == pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW || reason == pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW ||
         reason == pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW || reason == pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW;
}

void Problems::Add(absl::string_view field, absl::string_view problem) {
  list_.push_back(absl::StrCat(prefix_, field, ": ", problem));
}

void Problems::Check(const absl::Status& status) {
  if (status.ok()) return;
  for (absl::string_view part : absl::StrSplit(status.message(), "; ")) list_.push_back(absl::StrCat(prefix_, part));
}

void Problems::Identifier(absl::string_view field, absl::string_view value, Need need, size_t max_bytes) {
  if (value.empty()) {
    if (need == Need::kRequired) Add(field, "required");
    return;
  }
  if (value.size() > max_bytes) {
    Add(field, absl::StrCat("longer than ", max_bytes, " characters (", value.size(), ")"));
    return;
  }
  for (char c : value) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) && c != ' ') {
      Add(field, "contains a control or non-ASCII character");
      return;
    }
  }
}

void Problems::Text(absl::string_view field, absl::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes) Add(field, absl::StrCat("longer than ", max_bytes, " bytes (", value.size(), ")"));
}

void Problems::Count(absl::string_view field, int size, int max) {
  if (size > max) Add(field, absl::StrCat("more than ", max, " entries (", size, ")"));
}

void Problems::Time(absl::string_view field, const google::protobuf::Timestamp& t, bool present, Need need) {
  if (!present) {
    if (need == Need::kRequired) Add(field, "required");
    return;
  }
  // Checked on the raw fields: seconds far outside the window must never reach absl::Time
  // arithmetic, and a nanos outside 0-999,999,999 is not a time at all (protobuf's own rule).
  if (t.nanos() < 0 || t.nanos() > 999'999'999) {
    Add(field, absl::StrCat("nanos ", t.nanos(), " is not 0-999999999"));
    return;
  }
  if (t.seconds() < limits::kEarliestUnixSeconds) {
    Add(field, "is before 2000, before care clusters existed");
  } else if (t.seconds() >= limits::kLatestUnixSeconds) {
    Add(field, absl::StrCat("is after ", limits::kLatestYear, ", not a plausible time"));
  }
}

void Problems::Date(absl::string_view field, const pbr::v1::CivilDate& d, bool present, Need need) {
  if (!present) {
    if (need == Need::kRequired) Add(field, "required");
    return;
  }
  if (d.year() < limits::kEarliestYear || d.year() > limits::kLatestYear) {
    Add(field, absl::StrCat("year ", d.year(), " is not ", limits::kEarliestYear, "-", limits::kLatestYear));
    return;
  }
  const absl::CivilDay day(d.year(), d.month(), d.day());  // normalises: 2026-02-30 becomes 2026-03-02
  if (d.month() < 1 || d.month() > 12 || d.day() < 1 || day.month() != d.month() || day.day() != d.day()) {
    Add(field, absl::StrCat(d.year(), "-", d.month(), "-", d.day(), " is not a calendar date"));
  }
}

void Problems::Cluster(const care::RuleSet& rules, absl::string_view field, int cluster) {
  if (cluster == care::kBlankCluster) {
    Add(field, absl::StrCat(cluster, " is the blank cluster, never used"));
  } else if (!care::IsValidClusterId(cluster) || rules.FindCluster(cluster) == nullptr) {
    Add(field, absl::StrCat(cluster, " is not a care cluster (0-21)"));
  }
}

void Problems::Ratings(const pbr::v1::MhctRatings& ratings, bool present) {
  if (!present) {
    Add("ratings", absl::StrCat("required (", limits::kRatingItems, " ratings: items 1-13 and A-E)"));
    return;
  }
  Text("ratings.item8_other_text", ratings.item8_other_text(), limits::kItem8OtherTextBytes);
  if (auto converted = RatingsFromProto(ratings); !converted.ok()) {
    Check(converted.status());
  } else {
    Check(care::ValidateMhct(*converted));
  }
}

void Problems::Reason(pbr::v1::AssessmentReason reason, pbr::v1::ChangeClass change_class) {
  if (reason == pbr::v1::ASSESSMENT_REASON_UNSPECIFIED || !pbr::v1::AssessmentReason_IsValid(reason)) {
    Add("reason", "required (initial assessment, formal, transfer, discharge or unplanned review)");
  }
  if (!pbr::v1::ChangeClass_IsValid(change_class)) {
    Add("change_class", absl::StrCat(static_cast<int>(change_class), " is not a change class"));
  } else if (IsReview(reason) && change_class == pbr::v1::CHANGE_CLASS_UNSPECIFIED) {
    Add("change_class", "required for a review (improvement, no change, deterioration or change in diagnosis)");
  }
}

void Problems::FaceToFaceContacts(int contacts) {
  if (contacts < 0 || contacts > limits::kMaxFaceToFaceContacts) {
    Add("face_to_face_contacts", absl::StrCat(contacts, " is not 0-", limits::kMaxFaceToFaceContacts));
  }
}

void Problems::CareEventType(pbr::v1::CareEventType type, bool out_of_hours) {
  if (type == pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED || !pbr::v1::CareEventType_IsValid(type)) {
    Add("type", "required (referral to CRHT or inpatients, admission, contact, discharge, MHA assessment, "
                "non-concordance)");
  }
  const bool referral = type == pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT || type == pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS;
  if (out_of_hours && !referral) Add("out_of_hours", "applies to referrals only");
}

absl::Status Problems::Result() const {
  return list_.empty() ? absl::OkStatus() : absl::InvalidArgumentError(absl::StrJoin(list_, "; "));
}

}  // namespace pbr::services
