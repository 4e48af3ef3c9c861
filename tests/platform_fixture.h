#pragma once
// What the multi-process system tests share: the whole platform (broker and four service binaries)
// on a fixed clinical clock, started for each test and stopped cleanly after it, and the times at
// which they record assessments.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/common.pb.h"
#include "pbr/v1/reporting.pb.h"
#include "testing/local_platform.h"

namespace pbr::systemtest {

inline const absl::CivilDay kToday(2026, 11, 22);  // the platform's fixed clock

inline const absl::TimeZone& London() {
  static const absl::TimeZone tz = [] {
    absl::TimeZone z;
    absl::LoadTimeZone("Europe/London", &z);
    return z;
  }();
  return tz;
}
// 11:00 UK time on a clinical day.
inline absl::Time At(absl::CivilDay d) {
  return absl::FromCivil(absl::CivilSecond(d.year(), d.month(), d.day(), 11, 0, 0), London());
}

// Synthetic MHCT ratings (items 1-13, A-E), different for each seed, and their HoNOS total.
inline std::vector<int> Ratings(int seed) {
  std::vector<int> r(18);
  for (int i = 0; i < 18; ++i) r[i] = (seed * 7 + i * 3) % 5;
  return r;
}
// A CivilDate as the contracts carry it (the system tests do not link the platform library).
inline void SetDate(pbr::v1::CivilDate* out, absl::CivilDay d) {
  out->set_year(static_cast<int32_t>(d.year()));
  out->set_month(d.month());
  out->set_day(d.day());
}

// A day as the tests print it, "2026-03-01".
inline std::string DayText(const pbr::v1::CivilDate& d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}
inline std::string DayText(absl::CivilDay d) { return absl::FormatCivilTime(d); }

// The part of a caseload these tests calculate (people, reviews and HoNOS per cluster and person): the
// profile's figures (care co-ordinators, time in the cluster, contact, reasons to discuss, clustering
// quality) cleared, for tests/reporting_system_test.cc and the projection's tests check those.
inline pbr::v1::Caseload WithoutProfile(pbr::v1::Caseload c) {
  c.clear_care_coordinator_id();
  c.clear_super_classes();
  c.clear_quality();
  c.clear_quality_by_clinician();
  c.clear_cases_to_discuss();
  c.clear_as_of();
  c.clear_rule_version();
  for (auto& k : *c.mutable_clusters()) {
    k.clear_super_class();
    k.clear_indicative_period();
    k.clear_beyond_indicative_period();
    k.clear_mean_days_in_cluster();
    k.clear_people_with_recent_contact();
  }
  for (auto& p : *c.mutable_persons()) {
    p.clear_care_coordinator_id();
    p.clear_super_class();
    p.clear_in_cluster_since();
    p.clear_days_in_cluster();
    p.clear_beyond_indicative_period();
    p.clear_face_to_face_contacts_90_days();
    p.clear_last_face_to_face_contact();
    p.clear_discuss();
  }
  return c;
}

// A deterministic generator (splitmix64): the same history on every machine and library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int Uniform(int lo, int hi) { return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1)); }
  bool Chance(int percent) { return Uniform(0, 99) < percent; }
  template <typename T>
  T Pick(const std::vector<T>& v) { return v[Next() % v.size()]; }

 private:
  uint64_t state_;
};

inline int HonosTotal(const std::vector<int>& r) {
  int total = 0;
  for (int i = 0; i < 12; ++i) total += r[i];
  return total;
}

// The `n`th (round and round) of `teams` whose service area holds `cluster`, by the rules' team registry,
// so a synthetic assessment goes to a team that may hold its cluster.
inline std::string TeamHolding(const care::RuleSet& rules, const std::vector<std::string>& teams, int cluster,
                               int n) {
  std::vector<std::string> holding;
  for (const std::string& id : teams) {
    const care::Team* team = rules.teams().Find(id);
    const care::ServiceArea* area = team != nullptr ? rules.service_areas().Find(team->service_area) : nullptr;
    if (area != nullptr && (area->allowed.count(cluster) || area->rarely.count(cluster))) holding.push_back(id);
  }
  EXPECT_FALSE(holding.empty()) << "none of the teams holds cluster " << cluster;
  return holding.empty() ? teams.front() : holding[static_cast<size_t>(n) % holding.size()];
}

class PlatformFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::LocalPlatformOptions options;
    options.bin_dir = PBR_BIN_DIR;
    options.rules_dir = PBR_RULES_DIR;
    options.work_dir = dir_.path();
    options.clock = "fixed:2026-11-22T12:00:00Z";
    Customise(options);
    auto platform = testing::LocalPlatform::Start(options);
    ASSERT_TRUE(platform.ok()) << platform.status();
    platform_ = *std::move(platform);
    auto rules = care::RuleSet::LoadFromDirectory(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = std::make_unique<care::RuleSet>(*std::move(rules));
  }
  void TearDown() override {
    if (platform_) {
      EXPECT_TRUE(platform_->StopAll().ok()) << "every process stops cleanly on SIGTERM";
    }
  }

  // A test's own platform options (e.g. tls), applied before the platform starts.
  virtual void Customise(testing::LocalPlatformOptions&) {}

  // Under the platform's mutual TLS, as `role` ("epr-feed:<SOURCE>", "clinician", ...), or, without
  // one, as the service's usual pseudonymous reader (LocalPlatform::Stub).
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& name, const std::string& role) {
    return platform_->Stub<Service>(name, role);
  }
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& name) {
    return platform_->Stub<Service>(name);
  }

  // Allocation as the EPR feed of `source_system`: its certificate may write only that system's
  // records. One stub per source system and allocation address (a restarted allocation has a new port).
  pbr::v1::Allocation::Stub& Feed(const std::string& source_system) {
    std::lock_guard lock(feeds_mu_);
    auto& stub = feeds_[{source_system, platform_->GrpcAddress("allocation")}];
    if (stub == nullptr) stub = platform_->Stub<pbr::v1::Allocation>("allocation", "epr-feed:" + source_system);
    return *stub;
  }
  // Allocation as a clinician: identifiable reads of one person (each one audited).
  std::unique_ptr<pbr::v1::Allocation::Stub> Clinician() {
    return platform_->Stub<pbr::v1::Allocation>("allocation", "clinician");
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::LocalPlatform> platform_;
  std::unique_ptr<care::RuleSet> rules_;

 private:
  std::mutex feeds_mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<pbr::v1::Allocation::Stub>> feeds_;
};

}  // namespace pbr::systemtest
