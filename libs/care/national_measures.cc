#include "care/national_measures.h"

namespace care {
namespace {

constexpr int64_t kSuppressedBelow = 5;  // counts under this are not published
constexpr int64_t kRoundedTo = 5;        // published counts are multiples of this

}  // namespace

double Acc37Percent(int64_t acc36, int64_t acc33) {
  if (acc33 <= 0) return 0;
  return 100.0 * static_cast<double>(acc36) / static_cast<double>(acc33);
}

PublishedCount RoundCountForPublication(int64_t count) {
  if (count < kSuppressedBelow) return {0, true};
  return {(count + kRoundedTo / 2) / kRoundedTo * kRoundedTo, false};
}

PublishedNationalMeasure PublishNationalMeasure(int64_t acc33, int64_t acc36) {
  PublishedNationalMeasure m;
  m.acc33 = RoundCountForPublication(acc33);
  m.acc36 = RoundCountForPublication(acc36);
  m.acc37_suppressed = m.acc33.suppressed;
  if (!m.acc37_suppressed && acc33 > 0) {
    // Tenths of a percent in integers, halves up, so 12.25% publishes as 12.3% whatever the binary
    // representation of the quotient: 1000 * acc36 / acc33 rounded.
    const int64_t tenths = (2000 * acc36 + acc33) / (2 * acc33);
    m.acc37 = static_cast<double>(tenths) / 10.0;
  }
  return m;
}

}  // namespace care
