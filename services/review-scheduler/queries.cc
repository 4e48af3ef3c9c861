#include "queries.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "due_index.h"
#include "field_rules.h"
#include "pbr/state/v1/state.pb.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "prometheus/client_metric.h"
#include "scheduler.h"

namespace pbr::scheduler {
namespace {

using platform::FromProto;
using platform::ToProto;

absl::StatusOr<int> PageSize(int requested, absl::string_view field) {
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", requested, " is not 1-", kMaxPageSize));
  }
  return requested;
}

// Filters are identifiers (the shared field rules: bounded, printable), so never the index's separator.
absl::Status CheckFilter(absl::string_view field, absl::string_view value) {
  services::Problems p;
  p.Identifier(field, value, services::Need::kOptional);
  return p.Result();
}

absl::StatusOr<absl::CivilDay> DayOf(const pbr::v1::CivilDate& d, absl::string_view field) {
  services::Problems p;
  p.Date(field, d, true, services::Need::kRequired);
  if (!p.ok()) return p.Result();
  return FromProto(d);
}

}  // namespace

absl::StatusOr<ReviewQueries::Page> ReviewQueries::Scan(
    const std::string& dimension, absl::CivilDay from, absl::CivilDay until, const std::string& page_token,
    int page_size, const std::function<bool(const pbr::v1::ScheduledReview&)>& keep) const {
  const std::string prefix = absl::StrCat(dimension, std::string(1, kSep));
  std::string start = absl::StrCat(prefix, DayText(from));
  if (!page_token.empty()) {
    std::string rest;
    absl::CivilDay due;
    std::string person;
    if (!absl::WebSafeBase64Unescape(page_token, &rest) || !ParseDueIndexRest(rest, &due, &person)) {
      return absl::InvalidArgumentError("page_token: not a token this query returned");
    }
    start = std::max(start, absl::StrCat(prefix, rest, std::string(1, '\0')));  // strictly after the last one
  }
  Page page;
  absl::Status failure;
  std::string last_rest;
  const std::string end = absl::StrCat(prefix, DayText(until));
  auto st = store_.ScanFrom(kDueIndexFamily, start, [&](absl::string_view key, absl::string_view value) {
    if (key.substr(0, prefix.size()) != prefix || key >= end) return false;
    if (static_cast<int>(page.reviews.size()) == page_size) {
      page.next_token = absl::WebSafeBase64Escape(last_rest);
      return false;
    }
    const absl::string_view rest = key.substr(prefix.size());
    pbr::v1::ScheduledReview r;
    absl::CivilDay due;
    std::string person;
    if (!r.ParseFromString(std::string(value)) || !ParseDueIndexRest(rest, &due, &person)) {
      failure = absl::DataLossError("stored due-date index entry is unreadable");
      return false;
    }
    if (!keep(r)) return true;
    r.set_person_id(person);
    *r.mutable_due_date() = ToProto(due);
    page.reviews.push_back(std::move(r));
    last_rest = std::string(rest);
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  for (auto& r : page.reviews) {
    if (auto c = Complete(r); !c.ok()) return c;
  }
  return page;
}

absl::Status ReviewQueries::Complete(pbr::v1::ScheduledReview& r) const {
  auto stored = store_.Get(kPeopleFamily, r.person_id());
  if (!stored.ok()) return stored.status();
  pbr::state::v1::SchedulerPerson p;
  if (!stored->has_value() || !p.ParseFromString(**stored) || !p.has_schedule()) {
    return absl::DataLossError(absl::StrCat("due-date index names ", platform::Quote(r.person_id()),
                                            ", who has no stored schedule"));
  }
  r.set_basis_assessment_id(p.schedule().basis_assessment_id());
  *r.mutable_latest_mhct_date() = p.schedule().latest_mhct_date();
  *r.mutable_window_opens() = p.schedule().window_opens();
  return absl::OkStatus();
}

absl::StatusOr<pbr::v1::ListOverdueReply> ReviewQueries::ListOverdue(const pbr::v1::ListOverdueRequest& request,
                                                                     absl::CivilDay today) const {
  if (auto st = CheckFilter("team_id", request.team_id()); !st.ok()) return st;
  if (auto st = CheckFilter("service_area", request.service_area()); !st.ok()) return st;
  if (request.has_cluster()) {
    services::Problems p;
    p.Cluster(*rules_, "cluster", request.cluster());
    if (!p.ok()) return p.Result();
  }
  if (auto known = KnownTeam(request.team_id()); !known.ok()) return known;
  auto size = PageSize(request.page_size(), "page_size");
  if (!size.ok()) return size.status();
  absl::CivilDay as_of = today;
  if (request.has_as_of()) {
    auto d = DayOf(request.as_of(), "as_of");
    if (!d.ok()) return d.status();
    as_of = *d;
  }
  // The most selective index the filters allow; the rest are checked on the entry's value.
  std::string dimension = AllDimension();
  if (!request.team_id().empty() && request.has_cluster()) {
    dimension = TeamClusterDimension(request.team_id(), request.cluster());
  } else if (!request.team_id().empty()) {
    dimension = TeamDimension(request.team_id());
  } else if (!request.service_area().empty()) {
    dimension = AreaDimension(request.service_area());
  } else if (request.has_cluster()) {
    dimension = ClusterDimension(request.cluster());
  }
  auto keep = [&](const pbr::v1::ScheduledReview& r) {
    if (!request.service_area().empty() && r.service_area() != request.service_area()) return false;
    if (request.has_cluster() && r.cluster() != request.cluster()) return false;
    return true;
  };
  // Overdue on as_of: due before it (a review is on time on its due date).
  auto page = Scan(dimension, absl::CivilDay(2000, 1, 1), as_of, request.page_token(), *size, keep);
  if (!page.ok()) return page.status();
  pbr::v1::ListOverdueReply reply;
  for (auto& r : page->reviews) {
    r.set_state(pbr::v1::REVIEW_STATE_OVERDUE);
    r.set_days_overdue(static_cast<int32_t>(as_of - FromProto(r.due_date())));
    *reply.add_reviews() = std::move(r);
  }
  reply.set_next_page_token(page->next_token);
  *reply.mutable_as_of() = ToProto(as_of);
  return reply;
}

absl::StatusOr<pbr::v1::ListDueReply> ReviewQueries::ListDue(const pbr::v1::ListDueRequest& request,
                                                             absl::CivilDay today) const {
  if (!request.has_from()) return absl::InvalidArgumentError("from: required");
  if (!request.has_to()) return absl::InvalidArgumentError("to: required");
  auto from = DayOf(request.from(), "from");
  if (!from.ok()) return from.status();
  auto to = DayOf(request.to(), "to");
  if (!to.ok()) return to.status();
  if (*to < *from) return absl::InvalidArgumentError("to: before from");
  if (*to - *from > kMaxDueRangeDays) {
    return absl::InvalidArgumentError(absl::StrCat("to: more than ", kMaxDueRangeDays, " days after from"));
  }
  if (auto st = CheckFilter("team_id", request.team_id()); !st.ok()) return st;
  if (auto known = KnownTeam(request.team_id()); !known.ok()) return known;
  auto size = PageSize(request.page_size(), "page_size");
  if (!size.ok()) return size.status();
  const std::string dimension = request.team_id().empty() ? AllDimension() : TeamDimension(request.team_id());
  auto page = Scan(dimension, *from, *to + 1, request.page_token(), *size, [](const auto&) { return true; });
  if (!page.ok()) return page.status();
  pbr::v1::ListDueReply reply;
  for (auto& r : page->reviews) {
    r.set_state(ReviewStateOn(FromProto(r.window_opens()), FromProto(r.due_date()), today));
    if (r.state() == pbr::v1::REVIEW_STATE_OVERDUE) r.set_days_overdue(static_cast<int32_t>(today - FromProto(r.due_date())));
    *reply.add_reviews() = std::move(r);
  }
  reply.set_next_page_token(page->next_token);
  return reply;
}

absl::StatusOr<pbr::v1::CountOverdueReply> ReviewQueries::CountOverdue(const pbr::v1::CountOverdueRequest& request) const {
  if (auto st = CheckFilter("team_id", request.team_id()); !st.ok()) return st;
  if (auto known = KnownTeam(request.team_id()); !known.ok()) return known;
  pbr::v1::CountOverdueReply reply;
  absl::Status failure;
  const std::string prefix = request.team_id().empty() ? "" : absl::StrCat(request.team_id(), std::string(1, kSep));
  auto st = store_.Scan(kOverdueCountsFamily, prefix, [&](absl::string_view key, absl::string_view value) {
    auto* c = reply.add_counts();
    std::string team;
    int cluster = 0;
    int64_t n = 0;
    if (!ParseOverdueCountKey(key, &team, &cluster) || !absl::SimpleAtoi(value, &n)) {
      failure = absl::DataLossError("stored overdue count is unreadable");
      return false;
    }
    c->set_team_id(team);
    c->set_cluster(cluster);
    c->set_overdue(n);
    reply.set_total(reply.total() + n);
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  auto day = store_.Get(kMetaFamily, kTimerDayKey);
  if (!day.ok()) return day.status();
  absl::CivilDay as_of;
  if (day->has_value() && absl::ParseCivilTime(**day, &as_of)) {
    *reply.mutable_as_of() = ToProto(as_of);
    // The oldest open review due before the counts' day is the oldest overdue one.
    const std::string dimension =
        request.team_id().empty() ? AllDimension() : TeamDimension(request.team_id());
    const std::string dim_prefix = absl::StrCat(dimension, std::string(1, kSep));
    auto oldest = store_.ScanFrom(kDueIndexFamily, dim_prefix, [&](absl::string_view key, absl::string_view) {
      absl::CivilDay due;
      std::string person;
      if (key.substr(0, dim_prefix.size()) == dim_prefix && ParseDueIndexRest(key.substr(dim_prefix.size()), &due, &person) &&
          due < as_of) {
        *reply.mutable_oldest_due_date() = ToProto(due);
      }
      return false;
    });
    if (!oldest.ok()) return oldest;
  }
  return reply;
}

absl::Status ReviewQueries::KnownTeam(const std::string& team_id) const {
  if (team_id.empty() || rules_->teams().Find(team_id) != nullptr) return absl::OkStatus();
  // A team recorded while unknown teams were allowed has reviews indexed under it: still answered.
  bool indexed = false;
  const std::string prefix = absl::StrCat(TeamDimension(team_id), std::string(1, kSep));
  auto st = store_.Scan(kDueIndexFamily, prefix, [&](absl::string_view, absl::string_view) {
    indexed = true;
    return false;
  });
  if (!st.ok()) return st;
  if (indexed) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("team_id: ", platform::Quote(team_id),
                                          " is not a team of the rule set's team registry (teams ",
                                          platform::Quote(rules_->teams().version), ")"));
}

std::string ReviewQueries::TeamLabel(const std::string& team_id) const {
  return rules_->teams().Find(team_id) != nullptr ? team_id : "unregistered";
}

std::vector<prometheus::MetricFamily> ReviewQueries::Gauges(absl::CivilDay today) const {
  using Labels = std::pair<std::string, int>;  // team label, cluster
  std::map<Labels, double> overdue, due_soon;
  auto counts = CountOverdue({});
  double oldest_days = 0;
  if (counts.ok()) {
    for (const auto& c : counts->counts()) overdue[{TeamLabel(c.team_id()), c.cluster()}] += static_cast<double>(c.overdue());
    if (counts->has_oldest_due_date() && counts->has_as_of()) {
      oldest_days = static_cast<double>(FromProto(counts->as_of()) - FromProto(counts->oldest_due_date()));
    }
  }
  // Due in the next 7 days: today up to and including today + 6, not yet overdue.
  const std::string prefix = absl::StrCat(AllDimension(), std::string(1, kSep));
  const std::string end = absl::StrCat(prefix, DayText(today + 7));
  (void)store_.ScanFrom(kDueIndexFamily, absl::StrCat(prefix, DayText(today)),
                        [&](absl::string_view key, absl::string_view value) {
                          if (key >= end) return false;
                          pbr::v1::ScheduledReview r;
                          if (r.ParseFromString(std::string(value))) due_soon[{TeamLabel(r.team_id()), r.cluster()}] += 1;
                          return true;
                        });

  auto family = [](std::string name, std::string help, const std::map<Labels, double>& values) {
    prometheus::MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = prometheus::MetricType::Gauge;
    for (const auto& [labels, v] : values) {
      prometheus::ClientMetric m;
      m.label = {{"team", labels.first}, {"cluster", absl::StrCat(labels.second)}};
      m.gauge.value = v;
      f.metric.push_back(std::move(m));
    }
    return f;
  };
  std::vector<prometheus::MetricFamily> out;
  out.push_back(family("pbr_reviews_overdue", "Reviews overdue now (as of the last timer pass), by team and cluster",
                       overdue));
  out.push_back(family("pbr_reviews_due_next_7_days",
                       "Open reviews due today or in the next 6 days, by team and cluster", due_soon));
  prometheus::MetricFamily oldest;
  oldest.name = "pbr_oldest_overdue_review_days";
  oldest.help = "Days since the due date of the oldest overdue review (0 when none is overdue)";
  oldest.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric m;
  m.gauge.value = oldest_days;
  oldest.metric.push_back(m);
  out.push_back(std::move(oldest));
  return out;
}

}  // namespace pbr::scheduler
