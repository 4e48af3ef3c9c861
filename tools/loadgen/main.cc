// pbr-loadgen: a national year of assessments and care events as a CSV file for pbr-import.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "care/rules.h"
#include "corrections.h"
#include "national_year.h"

namespace {

using namespace pbr::loadgen;

// The temporary file being written, removed if the run is interrupted (never a half-written file under the
// final name, and no stray temporary either).
// Slot 0: the CSV (or the part being written), slot 1: the corrections file.
char g_temp_paths[2][4096] = {{0}, {0}};

void RemoveTempAndExit(int signal) {
  for (const char* path : g_temp_paths) {
    if (path[0] != 0) unlink(path);
  }
  _exit(128 + signal);
}

// A file written in large chunks to `<final>.tmp-<pid>`, synced, then renamed over `final` (and the
// directory synced), so a reader sees the old file or the whole new one.
class AtomicFile {
 public:
  static absl::StatusOr<std::unique_ptr<AtomicFile>> Create(const std::string& final_path, int slot,
                                                            const std::string& flag) {
    auto f = std::unique_ptr<AtomicFile>(new AtomicFile);
    f->slot_ = g_temp_paths[slot];
    f->final_ = final_path;
    f->temp_ = absl::StrCat(final_path, ".tmp-", getpid());
    if (f->temp_.size() >= sizeof(g_temp_paths[0])) return absl::InvalidArgumentError(flag + ": the path is too long");
    std::memcpy(f->slot_, f->temp_.c_str(), f->temp_.size() + 1);
    f->fd_ = open(f->temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd_ < 0) {
      f->slot_[0] = 0;
      return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot create ", f->temp_, ": ", std::strerror(errno)));
    }
    return f;
  }
  ~AtomicFile() {
    if (fd_ >= 0) close(fd_);
    if (!committed_) {
      unlink(temp_.c_str());
      slot_[0] = 0;
    }
  }
  absl::Status Write(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(absl::StrCat("writing ", temp_, ": ", std::strerror(errno)));
      }
      data.remove_prefix(static_cast<size_t>(n));
      bytes_ += n;
    }
    return absl::OkStatus();
  }
  absl::Status Commit() {
    if (fsync(fd_) != 0) return absl::InternalError(absl::StrCat("fsync ", temp_, ": ", std::strerror(errno)));
    if (close(fd_) != 0) {
      fd_ = -1;
      return absl::InternalError(absl::StrCat("closing ", temp_, ": ", std::strerror(errno)));
    }
    fd_ = -1;
    if (rename(temp_.c_str(), final_.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("renaming ", temp_, " to ", final_, ": ", std::strerror(errno)));
    }
    committed_ = true;
    slot_[0] = 0;
    std::filesystem::path dir = std::filesystem::path(final_).parent_path();
    if (dir.empty()) dir = ".";
    if (int d = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
      fsync(d);
      close(d);
    }
    return absl::OkStatus();
  }
  int64_t bytes() const { return bytes_; }
  const std::string& path() const { return final_; }

 private:
  AtomicFile() = default;
  std::string final_, temp_;
  char* slot_ = nullptr;
  int fd_ = -1;
  bool committed_ = false;
  int64_t bytes_ = 0;
};

// "generated 1200000 rows (480000/3000000 assessments, 16%)  95000 rows/s  ETA 25s": rewritten in place on
// a terminal, one line per tenth of the assessments otherwise.
class ProgressLine {
 public:
  ProgressLine(int64_t total, bool tty) : total_(total), tty_(tty), start_(absl::Now()) {}
  void Update(int64_t rows, int64_t assessments, bool final = false) {
    const absl::Time now = absl::Now();
    const int decile = total_ == 0 ? 10 : static_cast<int>(assessments * 10 / total_);
    if (!final) {
      if (tty_ ? now - last_ < absl::Milliseconds(500) : decile <= printed_decile_) return;
    }
    last_ = now;
    printed_decile_ = decile;
    const double seconds = std::max(1e-3, absl::ToDoubleSeconds(now - start_));
    const double rate = rows / seconds;
    const double done = total_ == 0 ? 1.0 : static_cast<double>(assessments) / static_cast<double>(total_);
    const double eta = done > 0 ? seconds * (1 - done) / done : 0;
    std::string line = absl::StrFormat("generated %d rows (%d/%d assessments, %d%%)  %.0f rows/s  %s", rows,
                                       assessments, total_, static_cast<int>(done * 100), rate,
                                       final ? absl::StrFormat("took %.1fs", seconds)
                                             : absl::StrFormat("ETA %.0fs", eta));
    if (tty_) {
      std::cerr << "\r" << line << "\x1b[K" << (final ? "\n" : "") << std::flush;
    } else {
      std::cerr << line << "\n";
    }
  }

 private:
  const int64_t total_;
  const bool tty_;
  const absl::Time start_;
  absl::Time last_ = absl::InfinitePast();
  int printed_decile_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "pbr-loadgen: a national year of MHCT assessments and care events (synthetic, deterministic) as a CSV file "
      "for pbr-import. Every person is referred, allocated a cluster by the rules from their ratings, reviewed 1-4 "
      "times; some move team in a crisis, some are discharged. See tools/loadgen/README.md."};
  std::string out, year_end, rules_dir = "rules", corrections;
  int64_t rows_per_file = 0;
  NationalYearOptions options;
  int64_t people = options.people, assessments = options.assessments;
  app.add_option("--out", out, "the CSV file to write (replaced whole at the end; never half-written)")->required();
  app.add_option("--people", people, "distinct people (NHS numbers)")->capture_default_str();
  app.add_option("--assessments", assessments, "assessments in all: one initial per person plus 1-4 reviews each")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "the same seed and flags give a byte-identical file")->capture_default_str();
  app.add_option("--year-end", year_end, "YYYY-MM-DD: everything happens in the 365 days before it (default: yesterday)");
  app.add_option("--rules-dir", rules_dir, "the rule set (teams, service areas, profiles, transitions)")
      ->capture_default_str();
  app.add_option("--source-systems", options.source_systems, "EPRs the rows come from (1-16)")->capture_default_str();
  app.add_option("--corrections", corrections,
                 "also write amendments and withdrawals of some generated records to this CSV (a format for a "
                 "later tool; pbr-import does not read it)");
  app.add_option("--rows-per-file", rows_per_file,
                 "split the output into parts of about this many rows, at person boundaries: FILE-0001.csv, "
                 "FILE-0002.csv, ... (pbr-import holds a whole file in memory: about 3 GB per million rows); "
                 "0: one file")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  options.people = people;
  options.assessments = assessments;
  if (year_end.empty()) {
    options.year_end = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) - 1;
  } else if (!absl::ParseCivilTime(year_end, &options.year_end) || absl::FormatCivilTime(options.year_end) != year_end) {
    std::cerr << "error: --year-end: '" << year_end << "' is not a date YYYY-MM-DD\n";
    return 2;
  }
  if (rows_per_file < 0) {
    std::cerr << "error: --rows-per-file: " << rows_per_file << " is negative (0: one file)\n";
    return 2;
  }
  if (!corrections.empty() && corrections == out) {
    std::cerr << "error: --corrections: must not be the --out file\n";
    return 2;
  }
  if (auto st = ValidateOptions(options); !st.ok()) {
    std::cerr << "error: " << st.message() << "\n";
    return 2;
  }
  if (std::filesystem::path(out).has_parent_path() &&
      !std::filesystem::is_directory(std::filesystem::path(out).parent_path())) {
    std::cerr << "error: --out: the directory " << std::filesystem::path(out).parent_path() << " does not exist\n";
    return 2;
  }
  auto rules = care::RuleSet::LoadFromDirectory(rules_dir);
  if (!rules.ok()) {
    std::cerr << "error: --rules-dir: cannot load the rules from " << rules_dir << ":\n" << rules.status().message() << "\n";
    return 2;
  }
  auto year = NationalYear::Create(*rules, options);
  if (!year.ok()) {
    std::cerr << "error: " << year.status().message() << "\n";
    return 2;
  }
  if (options.people > TestRangeCapacity()) {
    std::cerr << "warning: --people=" << options.people << " is more than the " << TestRangeCapacity()
              << " valid NHS numbers in the test range 999 000 0000 - 999 999 9999; the last "
              << options.people - TestRangeCapacity()
              << " people get numbers from 998 000 0000 upwards. Those are outside the reserved test range: load this "
                 "file only into a test platform, never into a production trust's.\n";
  }

  std::signal(SIGINT, RemoveTempAndExit);
  std::signal(SIGTERM, RemoveTempAndExit);
  // The name of part n (1-based) when splitting: year.csv -> year-0001.csv.
  auto part_name = [&](int n) {
    if (rows_per_file == 0) return out;
    const std::filesystem::path p(out);
    const std::string stem = p.extension() == ".csv" ? out.substr(0, out.size() - 4) : out;
    return absl::StrFormat("%s-%04d.csv", stem, n);
  };
  std::vector<std::string> parts;
  int64_t bytes_written = 0;
  auto open_part = [&]() -> absl::StatusOr<std::unique_ptr<AtomicFile>> {
    parts.push_back(part_name(static_cast<int>(parts.size()) + 1));
    return AtomicFile::Create(parts.back(), 0, "--out");
  };
  auto file = open_part();
  if (!file.ok()) {
    std::cerr << "error: " << file.status().message() << "\n";
    return 2;
  }
  std::unique_ptr<AtomicFile> corrections_file;
  std::unique_ptr<CorrectionWriter> correction_writer;
  if (!corrections.empty()) {
    auto f = AtomicFile::Create(corrections, 1, "--corrections");
    if (!f.ok()) {
      std::cerr << "error: " << f.status().message() << "\n";
      return 2;
    }
    corrections_file = *std::move(f);
    correction_writer = std::make_unique<CorrectionWriter>(options.seed);
  }

  const absl::Time start = absl::Now();
  ProgressLine progress(options.assessments, isatty(STDERR_FILENO) != 0);
  constexpr size_t kChunk = 8 << 20;
  std::string buffer = CsvHeader();
  std::string correction_buffer = correction_writer ? CorrectionWriter::Header() : std::string();
  buffer.reserve(kChunk + (1 << 16));
  absl::Status failed;
  int64_t rows_in_part = 0;
  year->Run([&](const PersonRecord& person) {
    // A person's rows stay in one part, so each part imports on its own, in order.
    if (rows_per_file > 0 && rows_in_part > 0 && rows_in_part + static_cast<int64_t>(person.rows.size()) > rows_per_file) {
      failed = (*file)->Write(buffer);
      if (failed.ok()) failed = (*file)->Commit();
      if (!failed.ok()) return false;
      bytes_written += (*file)->bytes();
      buffer = CsvHeader();
      rows_in_part = 0;
      file = open_part();
      if (!file.ok()) {
        failed = file.status();
        return false;
      }
    }
    for (const auto& row : person.rows) AppendCsvRow(row, buffer);
    rows_in_part += static_cast<int64_t>(person.rows.size());
    if (correction_writer) correction_writer->Add(person, correction_buffer);
    if (buffer.size() >= kChunk) {
      failed = (*file)->Write(buffer);
      buffer.clear();
    }
    if (correction_buffer.size() >= kChunk && failed.ok()) {
      failed = corrections_file->Write(correction_buffer);
      correction_buffer.clear();
    }
    if ((person.index & 255) == 0) progress.Update(year->stats().rows(), year->stats().assessments);
    return failed.ok();
  });
  if (failed.ok()) failed = (*file)->Write(buffer);
  if (failed.ok() && corrections_file) failed = corrections_file->Write(correction_buffer);
  if (failed.ok()) failed = (*file)->Commit();
  if (failed.ok() && corrections_file) failed = corrections_file->Commit();
  if (!failed.ok()) {
    std::cerr << "\nerror: " << failed.message() << "\n";
    return 1;
  }
  bytes_written += (*file)->bytes();
  const NationalYearStats& s = year->stats();
  progress.Update(s.rows(), s.assessments, /*final=*/true);
  const double seconds = std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - start));

  if (parts.size() == 1) {
    std::cout << absl::StrFormat("wrote         %s\n", out);
  } else {
    std::cout << absl::StrFormat("wrote         %d parts: %s .. %s (import them in order)\n", parts.size(),
                                 parts.front(), parts.back());
  }
  std::cout << absl::StrFormat("rows          %d (%d assessments, %d care events)\n", s.rows(), s.assessments,
                               s.care_events);
  std::cout << absl::StrFormat("people        %d (%d discharged; %d NHS numbers outside the test range)\n", s.people,
                               s.discharged, s.outside_test_range);
  std::cout << absl::StrFormat("reviews       1: %d  2: %d  3: %d  4: %d people\n", s.people_by_reviews[1],
                               s.people_by_reviews[2], s.people_by_reviews[3], s.people_by_reviews[4]);
  std::cout << "reasons      ";
  for (const auto& [reason, n] : s.assessments_by_reason) std::cout << " " << reason << ": " << n;
  std::cout << "\ncare events  ";
  for (const auto& [type, n] : s.care_events_by_type) std::cout << " " << type << ": " << n;
  std::cout << "\nclusters     ";
  for (int c = 0; c < 22; ++c) {
    if (s.assessments_by_cluster[c] > 0) std::cout << " " << c << ": " << s.assessments_by_cluster[c];
  }
  std::cout << absl::StrFormat("\nrationale     %d assessments record a rule breach with a clinical_rationale\n",
                               s.with_rationale);
  std::cout << absl::StrFormat("times         %s .. %s (year end %s)\n",
                               absl::FormatTime("%Y-%m-%d", s.earliest, absl::UTCTimeZone()),
                               absl::FormatTime("%Y-%m-%d", s.latest, absl::UTCTimeZone()),
                               absl::FormatCivilTime(options.year_end));
  if (correction_writer) {
    std::cout << absl::StrFormat("corrections   %s: %d amendments, %d withdrawals\n", corrections,
                                 correction_writer->amendments(), correction_writer->withdrawals());
  }
  std::cout << absl::StrFormat("size          %d bytes (%.1f MB)\n", bytes_written, bytes_written / 1e6);
  std::cout << absl::StrFormat("took          %.1fs (%.0f rows/s, %.0f assessments/s)\n", seconds, s.rows() / seconds,
                               s.assessments / seconds);
  return 0;
}
