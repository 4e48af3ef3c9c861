// The Mental Health Clustering Tool (MHCT): 18 items (HoNOS items 1-12, item 13, historical items A-E),
// each rated 0-4 or 9 (not known). Reference section 4.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace care {

inline constexpr int kMhctItemCount = 18;  // items 1-13 then A-E (indices 0..17)
inline constexpr int kNotKnown = 9;
inline constexpr int kHonosItemCount = 12;  // items 1-12 (indices 0..11) are HoNOS
inline constexpr int kMaxRating = 4;
inline constexpr int kItem8Index = 7;   // "Other mental and behavioural problems"
inline constexpr int kItem12Index = 11;  // "Occupation and activities"

struct MhctRatings {
  std::array<int, kMhctItemCount> items{};  // each 0-4 or 9
  char item8_problem_type = 0;              // 'A'..'J', 0 = none
  std::string item8_other_text;             // required when type is 'J'
};

// Checks every field and reports every problem, separated by "; ". InvalidArgument; each problem names
// the field, e.g. "ratings.item[6] (item 7): rating 5 is not 0-4 or 9".
// Rules: every item is 0-4 or 9; item 8 rated 1-4 needs a problem type A-J; item 8 rated 0 or 9 must not
// have one; type J needs non-blank free text; free text is only allowed with type J.
absl::Status ValidateMhct(const MhctRatings& r);

// Item code as printed on the tool: "1".."13", "A".."E". Empty for an out-of-range index.
std::string_view MhctItemCode(int index);
// Item title, e.g. "Depressed mood". Empty for an out-of-range index.
std::string_view MhctItemLabel(int index);
// "item 7 (Depressed mood)" - the form used in explanations.
std::string MhctItemName(int index);
// "7" -> 6, "A" -> 13 (case-insensitive); nullopt for anything else.
std::optional<int> MhctItemIndexFromCode(std::string_view code);
// 'B' -> "Anxiety"; empty for anything outside A-J.
std::string_view Item8ProblemTypeLabel(char type);

}  // namespace care
