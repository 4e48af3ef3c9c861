// The clock setting: a file clock moves when its file is rewritten (atomically, by another process
// in a replay), keeps its last good time through a bad read, and is refused at start when unusable.
#include "platform/clock.h"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"
#include "testing/process.h"

namespace pbr::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

absl::Time At(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

// As a replay does it: a temporary file renamed over the clock file.
void WriteAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
  }
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

// Captures what the platform logs while it lives.
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)), previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> Lines() const { return sink_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(PlatformClock, FileClockReadsTheFileAtEveryNow) {
  pbr::testing::TempDir dir;
  const std::string path = dir.path() + "/clock";
  WriteAtomically(path, "2026-11-22T09:00:00Z\n");
  auto clock = MakeClock("file:" + path);
  ASSERT_TRUE(clock.ok()) << clock.status();
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));  // it does not run on its own
  WriteAtomically(path, "2027-01-05T23:30:00+00:00");
  EXPECT_EQ((*clock)->Now(), At(2027, 1, 5, 23, 30));
  WriteAtomically(path, "  2027-03-01T12:00:00.25+01:00 \r\n");  // whitespace, fractions, offsets
  EXPECT_EQ((*clock)->Now(), At(2027, 3, 1, 11) + absl::Milliseconds(250));
  // The file is the truth: a replay may set the time back.
  WriteAtomically(path, "2026-12-01T00:00:00Z");
  EXPECT_EQ((*clock)->Now(), At(2026, 12, 1));
}

TEST(PlatformClock, ABadReadKeepsTheLastGoodTimeAndLogsEachProblemOnce) {
  pbr::testing::TempDir dir;
  const std::string path = dir.path() + "/clock";
  WriteAtomically(path, "2026-11-22T09:00:00Z");
  auto clock = MakeClock("file:" + path);
  ASSERT_TRUE(clock.ok()) << clock.status();
  CapturedLog log;

  WriteAtomically(path, "next tuesday");
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));
  ASSERT_THAT(log.Lines(), SizeIs(1)) << absl::StrJoin(log.Lines(), "\n");
  EXPECT_THAT(log.Lines()[0], HasSubstr("'next tuesday' is not an RFC3339 time"));
  EXPECT_THAT(log.Lines()[0], HasSubstr("keeping the last good time 2026-11-22T09:00:00+00:00"));

  ASSERT_EQ(std::remove(path.c_str()), 0);  // a different problem: logged once more
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));
  ASSERT_THAT(log.Lines(), SizeIs(2));
  EXPECT_THAT(log.Lines()[1], HasSubstr("cannot open " + path));

  WriteAtomically(path, "");
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));
  WriteAtomically(path, std::string(FileClock::kMaxFileBytes + 1, ' '));  // never read whole
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 22, 9));
  ASSERT_THAT(log.Lines(), SizeIs(4));
  EXPECT_THAT(log.Lines()[2], HasSubstr("empty"));
  EXPECT_THAT(log.Lines()[3], HasSubstr(absl::StrCat("larger than ", FileClock::kMaxFileBytes, " bytes")));

  WriteAtomically(path, "2026-11-23T09:00:00Z");  // readable again: the new time, and one line saying so
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 23, 9));
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 23, 9));
  ASSERT_THAT(log.Lines(), SizeIs(5));
  EXPECT_THAT(log.Lines()[4], HasSubstr("reads again"));
  WriteAtomically(path, "next tuesday");  // the same problem after a recovery is news again
  EXPECT_EQ((*clock)->Now(), At(2026, 11, 23, 9));
  EXPECT_THAT(log.Lines(), SizeIs(6));
}

TEST(PlatformClock, AFileClockThatCannotBeReadAtStartIsRefusedNamingTheSetting) {
  pbr::testing::TempDir dir;
  const std::string path = dir.path() + "/clock";
  auto missing = MakeClock("file:" + path);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(missing.status())) << missing.status();
  EXPECT_THAT(missing.status().message(), HasSubstr(absl::StrCat("clock: 'file:", path, "': cannot open ", path)));

  WriteAtomically(path, "2026-13-01T00:00:00Z");
  auto unparsable = MakeClock("file:" + path);
  ASSERT_FALSE(unparsable.ok());
  EXPECT_THAT(unparsable.status().message(), HasSubstr("clock: 'file:"));
  EXPECT_THAT(unparsable.status().message(), HasSubstr("is not an RFC3339 time"));

  WriteAtomically(path, "2026-11-22T09:00:00Z" + std::string(FileClock::kMaxFileBytes, '\n'));
  auto large = MakeClock("file:" + path);
  ASSERT_FALSE(large.ok());
  EXPECT_THAT(large.status().message(), HasSubstr("larger than"));

  auto directory = MakeClock("file:" + dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_THAT(directory.status().message(), HasSubstr("not a regular file"));

  auto no_path = MakeClock("file:");
  ASSERT_FALSE(no_path.ok());
  EXPECT_THAT(no_path.status().message(), HasSubstr("clock: 'file:' needs a path"));

  auto unknown = MakeClock("sundial");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("'system', 'fixed:<RFC3339 time>' or 'file:<path>'"));
}

TEST(PlatformClock, FileClockIsSafeFromManyThreadsWhileTheFileIsReplaced) {
  pbr::testing::TempDir dir;
  const std::string path = dir.path() + "/clock";
  const absl::Time start = At(2026, 1, 1);
  WriteAtomically(path, absl::FormatTime(absl::RFC3339_full, start, absl::UTCTimeZone()));
  auto clock = MakeClock("file:" + path);
  ASSERT_TRUE(clock.ok()) << clock.status();
  constexpr int kSteps = 200;
  std::atomic<bool> done{false};
  std::atomic<int> out_of_order{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      absl::Time seen = start;
      while (!done.load()) {
        const absl::Time now = (*clock)->Now();
        if (now < seen || now > start + absl::Hours(kSteps)) out_of_order.fetch_add(1);
        seen = now;
      }
    });
  }
  for (int step = 1; step <= kSteps; ++step) {
    WriteAtomically(path, absl::FormatTime(absl::RFC3339_full, start + absl::Hours(step), absl::UTCTimeZone()));
  }
  done.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_EQ((*clock)->Now(), start + absl::Hours(kSteps));
}

}  // namespace
}  // namespace pbr::platform
