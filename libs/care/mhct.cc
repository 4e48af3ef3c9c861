#include "care/mhct.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal.h"

namespace care {
namespace {


constexpr std::array<std::string_view, kMhctItemCount> kCodes = {
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "A", "B", "C", "D", "E"};

constexpr std::array<std::string_view, kMhctItemCount> kLabels = {
    "Overactive, aggressive, disruptive or agitated behaviour",
    "Non-accidental self-injury",
    "Problem drinking or drug taking",
    "Cognitive problems",
    "Physical illness or disability problems",
    "Hallucinations and delusions",
    "Depressed mood",
    "Other mental and behavioural problems",
    "Relationships",
    "Activities of daily living",
    "Living conditions",
    "Occupation and activities",
    "Strong unreasonable beliefs",
    "Agitated behaviour / expansive mood (historical)",
    "Repeat self-harm (historical)",
    "Safeguarding other children and vulnerable dependent adults (historical)",
    "Engagement (historical)",
    "Vulnerability (historical)",
};

constexpr std::array<std::string_view, 10> kProblemTypes = {
    "Phobic", "Anxiety", "Obsessive-compulsive", "Mental strain/tension", "Dissociative",
    "Somatoform", "Eating", "Sleep", "Sexual", "Other"};

bool IsRating(int v) { return (v >= 0 && v <= kMaxRating) || v == kNotKnown; }

}  // namespace

std::string_view MhctItemCode(int index) {
  if (index < 0 || index >= kMhctItemCount) return {};
  return kCodes[index];
}

std::string_view MhctItemLabel(int index) {
  if (index < 0 || index >= kMhctItemCount) return {};
  return kLabels[index];
}

std::string MhctItemName(int index) {
  return internal::Cat("item ", MhctItemCode(index), " (", MhctItemLabel(index), ")");
}

std::optional<int> MhctItemIndexFromCode(std::string_view code) {
  std::string upper = internal::Upper(internal::Strip(code));
  for (int i = 0; i < kMhctItemCount; ++i) {
    if (kCodes[i] == upper) return i;
  }
  return std::nullopt;
}

std::string_view Item8ProblemTypeLabel(char type) {
  if (type < 'A' || type > 'J') return {};
  return kProblemTypes[type - 'A'];
}

absl::Status ValidateMhct(const MhctRatings& r) {
  std::vector<std::string> problems;
  for (int i = 0; i < kMhctItemCount; ++i) {
    if (!IsRating(r.items[i])) {
      problems.push_back(internal::Cat("ratings.item[", i, "] (item ", kCodes[i], "): rating ",
                                      r.items[i], " is not 0-4 or 9"));
    }
  }
  const int item8 = r.items[kItem8Index];
  const char type = r.item8_problem_type;
  const bool type_valid = type >= 'A' && type <= 'J';
  if (type != 0 && !type_valid) {
    std::string shown = (type >= 0x20 && type < 0x7f) ? std::string(1, type)
                                                      : internal::Cat("code ", static_cast<int>(type));
    problems.push_back(internal::Cat("ratings.item8_problem_type: \"", shown,
                                    "\" is not a problem type A-J"));
  }
  if (item8 >= 1 && item8 <= kMaxRating && type == 0) {
    problems.push_back(internal::Cat("ratings.item8_problem_type: required (A-J) when item 8 is rated ",
                                    item8));
  }
  if ((item8 == 0 || item8 == kNotKnown) && type != 0) {
    problems.push_back(internal::Cat("ratings.item8_problem_type: must be empty when item 8 is rated ",
                                    item8));
  }
  const bool has_text = !internal::Strip(r.item8_other_text).empty();
  if (type == 'J' && !has_text) {
    problems.push_back("ratings.item8_other_text: required when the item 8 problem type is J (other)");
  }
  if (type != 'J' && !r.item8_other_text.empty()) {
    problems.push_back("ratings.item8_other_text: only allowed when the item 8 problem type is J (other)");
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

}  // namespace care
