// pbr-import: records a CSV file of assessments and care events through the allocation intake.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "progress.h"  // tools/pbrctl: shared with `pbrctl demo`
#include "report.h"
#include "rows.h"
#include "rpc.h"
#include "send.h"
#include "tls_flags.h"

namespace {

using namespace pbr::import;
using pbr::cli::Progress;

struct Options {
  std::string file;
  pbr::cli::RpcOptions rpc;
  std::string timeout = "10s";
  int concurrency = 8;
  int batch_rows = 200;
  std::string rejects;
  bool dry_run = false;
  pbr::cli::TlsFlags tls;
};

constexpr char kColumnsHelp[] =
    R"(The file: CSV (UTF-8, optional BOM; LF or CRLF; "quoted, fields" with "" for a quote), one row per
assessment or care event, a header row naming the columns (any order; unknown columns are an error).
Empty cells mean "not given"; spaces around values are ignored except in free text.
  kind                   assessment | care_event                                       (required column)
  source_system          the EPR, e.g. rio-north                                       (required column)
  source_record_id       the EPR's id for the record; re-sending it is a duplicate     (required column)
  nhs_number             10 digits                                                     (required column)
  local_patient_id, team_id, clinician_id
assessment rows:
  assessed_at            RFC 3339 (2024-05-14T10:30:00Z, 2024-05-14T10:30:00+01:00) or YYYY-MM-DD
                         (= 12:00 Europe/London); first_contact_at and admitted_at the same
  reason                 initial | formal_review | transfer_review | discharge_review | unplanned_review
  cluster                0-21 except 9 (required on assessment rows)
  item1..item13, itemA..itemE   ratings 0-4 or 9 (not known): all 18 or none
  item8_problem_type     A-J;  item8_other_text (for J)
  service_area, commissioner_id, face_to_face_contacts (a number)
  care_coordinator_id    the person's care co-ordinator, when not the clinician (optional)
  change_class           improvement | no_change | deterioration | change_in_diagnosis
  clinical_rationale     free text
care_event rows:
  event_type             referral_received | referral_to_crht | referral_to_inpatients | admission | face_to_face_contact |
                         discharge_review | discharge_from_service | mha_assessment | medication_non_concordance
  occurred_at            as assessed_at
  out_of_hours           true | false
Rows of one NHS number are sent in file order. Rows that cannot be read, and rows the service refuses,
go to the reject file (line,source_record_id,code,reason); re-running a file records nothing twice.
Exit status: 0 all rows recorded (or duplicates), 1 some rows rejected, 2 bad usage or file, or the
service unreachable (the rows not sent are counted; re-run the same file when it is back).)";

CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return pbr::cli::ParseCliDuration(value) ? "" : "expected a positive duration such as 10s, 500ms or 2m";
      },
      "DURATION");
}

// Overwriting the input with rejects would lose the data being imported.
bool SameFile(const std::string& a, const std::string& b) {
  std::error_code error;
  return a == b || std::filesystem::equivalent(a, b, error);
}

// Rows are read and sent a chunk at a time, so memory stays bounded whatever the file's size (a
// national year is gigabytes). A chunk is sent whole before the next is read, so one person's rows
// still reach the service in file order across chunks.
constexpr size_t kChunkRows = 50'000;

// Sends a chunk, or when `intake` is null (a dry run, or sending stopped) leaves every row "not sent".
class ChunkSender {
 public:
  ChunkSender(const Options& o, GrpcIntake* intake) : o_(o), intake_(intake) {}

  SendResult Send(const ImportFile& chunk, Progress& progress, uint64_t chunk_bytes) {
    SendResult sent;
    if (intake_ == nullptr || stopped_) {
      sent.outcomes.resize(chunk.rows.size());
      return sent;
    }
    if (!connected_) {
      // Fails fast, before any row, rather than a retry loop per row when nothing is listening: over
      // the first source system that has a certificate (rows of one without are rejected, saying so).
      grpc::Status connected = grpc::Status::OK;
      std::set<std::string> tried;
      for (const ImportRow& row : chunk.rows) {
        if (!tried.insert(row.source_system()).second) continue;
        connected = intake_->Connect(row.source_system(), o_.rpc.timeout);
        if (connected.error_code() != grpc::StatusCode::FAILED_PRECONDITION) break;
      }
      if (!connected.ok() && connected.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
        Stop(connected);
        sent.outcomes.resize(chunk.rows.size());
        return sent;
      }
      connected_ = !chunk.rows.empty();
    }
    SendOptions send;
    send.concurrency = o_.concurrency;
    send.batch_rows = o_.batch_rows;
    // Progress is in bytes of the file: each row answered stands for its share of the chunk's bytes.
    const size_t per_row = chunk.rows.empty() ? 0 : chunk_bytes / chunk.rows.size();
    sent = SendAll(chunk.rows, *intake_, send, [&progress, per_row] { progress.Add(per_row); });
    if (sent.stopped_early) Stop(sent.stop_status);
    return sent;
  }

  bool stopped() const { return stopped_; }
  const grpc::Status& stop_status() const { return stop_status_; }

 private:
  void Stop(const grpc::Status& status) {
    stopped_ = true;
    stop_status_ = status;
  }

  const Options& o_;
  GrpcIntake* intake_;
  bool connected_ = false, stopped_ = false;
  grpc::Status stop_status_;
};

int Run(Options& o) {
  const absl::Time start = absl::Now();
  o.rpc.timeout = *pbr::cli::ParseCliDuration(o.timeout);
  if (o.rejects.empty()) o.rejects = DefaultRejectsPath(o.file);
  if (SameFile(o.file, o.rejects)) {
    std::cerr << "error: --rejects names the input file " << o.file << "\n";
    return kExitFailed;
  }
  absl::TimeZone london;
  if (!absl::LoadTimeZone("Europe/London", &london)) {
    std::cerr << "error: cannot load the Europe/London time zone (is tzdata installed?)\n";
    return kExitFailed;
  }
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot read " << o.file << ": " << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  std::error_code size_error;
  const uintmax_t file_bytes = std::filesystem::file_size(o.file, size_error);
  absl::StatusOr<std::unique_ptr<ImportReader>> reader = ImportReader::Open(in, london);
  if (!reader.ok()) {
    std::cerr << "error: " << o.file << ": " << reader.status().message() << "\n";
    return kExitFailed;
  }
  const pbr::cli::Endpoint endpoint = o.rpc.AllocationEndpoint();
  std::cerr << absl::StrFormat(
      "pbr-import: %s: %.1f MB%s\n", o.file, size_error ? 0.0 : file_bytes / 1e6,
      o.dry_run ? " (dry run)"
                : absl::StrFormat(", %d in flight (%d rows per call) to %s at %s", o.concurrency, o.batch_rows,
                                  endpoint.service, endpoint.address));

  std::optional<GrpcIntake> intake;
  if (!o.dry_run) intake.emplace(endpoint.address, o.rpc.timeout);
  ChunkSender sender(o, intake ? &*intake : nullptr);
  RejectsWriter rejects(o.rejects);
  absl::Status rejects_written;
  Summary summary;
  summary.dry_run = o.dry_run;
  int last_line = 1;  // the header
  {
    Progress progress(o.dry_run ? "read" : "sent", size_error ? 0 : file_bytes, std::cerr,
                      isatty(STDERR_FILENO) != 0, Progress::Unit::kBytes);
    ImportFile chunk;
    uint64_t read_before = (*reader)->bytes_read();
    while ((*reader)->ReadChunk(kChunkRows, chunk)) {
      const uint64_t read_now = (*reader)->bytes_read();
      const SendResult sent = sender.Send(chunk, progress, read_now - read_before);
      progress.Set(read_now);
      read_before = read_now;
      AddToSummary(summary, chunk, o.dry_run ? nullptr : &sent);
      if (!chunk.rows.empty()) last_line = std::max(last_line, chunk.rows.back().line);
      if (!chunk.rejects.empty()) last_line = std::max(last_line, chunk.rejects.back().line);
      // A reject file that cannot be written (a full disk) stops the import: rejects must not be lost.
      if (rejects_written.ok()) rejects_written = rejects.Append(CollectRejects(chunk, &sent));
      if (!rejects_written.ok()) break;
    }
  }
  std::cout << RenderSummary(summary);
  if (summary.rejects_by_code.count("UNIMPLEMENTED") > 0) {
    std::cout << "  (UNIMPLEMENTED: this allocation service does not offer the call yet, e.g. RecordCareEvent;\n"
                 "   re-run the same file once it does: the rows recorded now answer as duplicates)\n";
  }
  if (rejects_written.ok()) rejects_written = rejects.Commit();
  if (!rejects_written.ok()) {
    std::cerr << "error: " << rejects_written.message() << "\n";
  } else if (rejects.written() > 0) {
    std::cout << "rejects       " << o.rejects << "\n";
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::cout << absl::StrFormat("took          %.1fs (%.0f rows/s)\n", seconds,
                               seconds > 0 ? summary.rows / seconds : 0.0);
  if (!rejects_written.ok()) {
    std::cerr << "error: stopped after line " << last_line << ": the summary covers the rows up to it\n";
    return kExitFailed;
  }
  if ((*reader)->failed()) {
    std::cerr << "error: " << o.file << ": could not be read past byte " << (*reader)->bytes_read()
              << " (an input/output error): the summary covers the rows before it; re-run the same file once it "
                 "reads: rows already recorded answer as duplicates\n";
    return kExitFailed;
  }
  if (sender.stopped()) {
    std::cerr << "error: stopped early, " << summary.not_sent
              << " rows not sent: " << pbr::cli::DescribeRpcError(sender.stop_status(), endpoint)
              << "\n  re-run the same file once the service is back: rows already recorded answer as duplicates\n";
    return kExitFailed;
  }
  return summary.rejected_locally + summary.rejected_by_service > 0 ? kExitRejects : kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pbr-import: record a CSV file of MHCT assessments and care events through the allocation service."};
  app.footer(kColumnsHelp);
  app.get_formatter()->column_width(24);
  Options o;
  app.add_option("FILE", o.file, "the CSV file (see below)")->required();
  app.add_option("--allocation", o.rpc.allocation, "allocation service address")
      ->envname("PBRCTL_ALLOCATION_ADDR")
      ->capture_default_str();
  app.add_option("--timeout", o.timeout, "deadline of each call")->check(DurationValidator())->capture_default_str();
  app.add_option("--concurrency", o.concurrency, "calls in flight (rows of one person are never concurrent)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--batch", o.batch_rows,
                 "rows per call (Allocation.RecordIntake, one durable write per batch); 1 sends each row on its own "
                 "(RecordAssessment, RecordCareEvent), as an EPR interface does")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--rejects", o.rejects, "where rejected rows go (default FILE without .csv + .rejects.csv)");
  app.add_flag("--dry-run", o.dry_run, "parse and report, send nothing");
  pbr::cli::AddTlsFlags(app, o.tls);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitFailed;  // --help is not an error
  }
  if (auto st = pbr::cli::UseTls(o.tls); !st.ok() || !(st = pbr::cli::CheckPlaintextTargets(o.rpc, o.tls)).ok()) {
    std::cerr << "error: " << st.message() << "\n";
    return kExitFailed;
  }
  return Run(o);
}
