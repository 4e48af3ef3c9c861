#include "dashboard/dashboard.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "care/kpi.h"
#include "care/teams.h"
#include "dashboard/page_assets.h"
#include "field_rules.h"
#include "nlohmann/json.hpp"
#include "platform/events.h"
#include "platform/quote.h"
#include "projections/caseload/queries.h"
#include "projections/outcome_summaries/queries.h"

namespace pbr::reporting {
namespace {

using Json = nlohmann::ordered_json;

std::string Day(absl::CivilDay d) { return absl::FormatCivilTime(d); }
std::string Day(const pbr::v1::CivilDate& d) { return Day(platform::FromProto(d)); }
std::string Month(absl::CivilMonth m) { return absl::FormatCivilTime(m); }
Json TimeOrNull(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return nullptr;
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}
Json PercentOrNull(bool has, double v) { return has ? Json(v) : Json(nullptr); }
Json OptionalOrNull(const std::optional<double>& v) { return v.has_value() ? Json(*v) : Json(nullptr); }

std::string_view StateName(pbr::v1::ReviewState s) {
  switch (s) {
    case pbr::v1::REVIEW_STATE_DUE: return "due";
    case pbr::v1::REVIEW_STATE_OVERDUE: return "overdue";
    case pbr::v1::REVIEW_STATE_UPCOMING: return "upcoming";
    default: return "unknown";
  }
}

std::string_view ReasonName(pbr::v1::DiscussionReason r) {
  switch (r) {
    case pbr::v1::DISCUSS_OVERDUE_REVIEW: return "overdue_review";
    case pbr::v1::DISCUSS_BEYOND_INDICATIVE_PERIOD: return "beyond_indicative_period";
    case pbr::v1::DISCUSS_TRANSITION_OUTSIDE_PROTOCOL: return "transition_outside_protocol";
    case pbr::v1::DISCUSS_RELIABLE_DETERIORATION: return "reliable_deterioration";
    case pbr::v1::DISCUSS_NO_RECENT_CONTACT: return "no_recent_contact";
    default: return "unspecified";
  }
}

Json ReviewJson(const ListedReview& r) {
  return Json{{"person_id", r.person_id},     {"team_id", r.team_id},     {"service_area", r.service_area},
              {"commissioner_id", r.commissioner_id}, {"cluster", r.cluster}, {"due_date", Day(r.due_date)},
              {"state", StateName(r.state)}, {"days_overdue", r.days_overdue}};
}

// The KPI scope the filters name: the narrowest given (a team, else a service area, else a commissioner,
// else the trust), as the page says beside the KPIs.
pbr::v1::ReportScope ScopeOf(const DashboardQuery& q) {
  pbr::v1::ReportScope s;
  if (!q.team_id.empty()) {
    s.set_kind(pbr::v1::REPORT_SCOPE_TEAM);
    s.set_id(q.team_id);
  } else if (!q.service_area.empty()) {
    s.set_kind(pbr::v1::REPORT_SCOPE_SERVICE_AREA);
    s.set_id(q.service_area);
  } else if (!q.commissioner_id.empty()) {
    s.set_kind(pbr::v1::REPORT_SCOPE_COMMISSIONER);
    s.set_id(q.commissioner_id);
  } else {
    s.set_kind(pbr::v1::REPORT_SCOPE_TRUST);
  }
  return s;
}

std::string_view ScopeKindName(pbr::v1::ReportScopeKind k) {
  switch (k) {
    case pbr::v1::REPORT_SCOPE_TEAM: return "team";
    case pbr::v1::REPORT_SCOPE_SERVICE_AREA: return "service_area";
    case pbr::v1::REPORT_SCOPE_COMMISSIONER: return "commissioner";
    default: return "trust";
  }
}

// The teams a caseload or outcome panel covers: the one asked for, else the service area's, else every
// registered team (a commissioner is not a team's: those panels are per team whatever the commissioner).
std::vector<const care::Team*> TeamsOf(const care::RuleSet& rules, const DashboardQuery& q) {
  std::vector<const care::Team*> out;
  for (const auto& [id, team] : rules.teams().teams) {
    if (!q.team_id.empty() && id != q.team_id) continue;
    if (!q.service_area.empty() && team.service_area != q.service_area) continue;
    out.push_back(&team);
  }
  return out;
}

platform::HttpResponse JsonAnswer(const absl::StatusOr<std::string>& body) {
  if (body.ok()) {
    platform::HttpResponse r;
    r.body = *body;
    return r;
  }
  const std::string message(body.status().message());
  // Every checked problem starts with its field ("team: ..."): the page shows the field beside it.
  const std::string field = message.substr(0, std::min(message.find(':'), message.size()));
  switch (body.status().code()) {
    case absl::StatusCode::kInvalidArgument: return platform::HttpError(400, message, field);
    case absl::StatusCode::kNotFound: return platform::HttpError(404, message, field);
    case absl::StatusCode::kFailedPrecondition: return platform::HttpError(409, message);
    case absl::StatusCode::kUnavailable: return platform::HttpError(503, message);
    default: return platform::HttpError(500, message);
  }
}

}  // namespace

Dashboard::Dashboard(const platform::StoreReader& store, std::shared_ptr<const care::RuleSet> rules,
                     const ReportingApi& api, const platform::Clock& clock, DashboardStatusSource status)
    : store_(store), rules_(std::move(rules)), api_(api), clock_(clock), status_(std::move(status)) {}

absl::StatusOr<DashboardQuery> Dashboard::ParseQuery(const platform::HttpRequest& request) const {
  static const std::set<std::string> kKnown = {"team", "service_area", "commissioner", "month"};
  services::Problems p;
  for (const auto& [name, value] : request.query) {
    if (!kKnown.count(name)) p.Add(name, "is not a parameter of this endpoint (team, service_area, commissioner, month)");
  }
  auto get = [&](const std::string& name) {
    auto it = request.query.find(name);
    return it == request.query.end() ? std::string() : it->second;
  };
  DashboardQuery q;
  q.team_id = get("team");
  q.service_area = get("service_area");
  q.commissioner_id = get("commissioner");
  p.Identifier("team", q.team_id, services::Need::kOptional);
  p.Identifier("service_area", q.service_area, services::Need::kOptional);
  p.Identifier("commissioner", q.commissioner_id, services::Need::kOptional);
  const absl::CivilMonth current(platform::ClinicalDay(clock_.Now()));
  q.month = current;
  if (const std::string month = get("month"); !month.empty()) {
    absl::CivilMonth m;
    if (month.size() != 7 || !absl::ParseCivilTime(month, &m) || m.year() < 1900 || m.year() > 2999) {
      p.Add("month", absl::StrCat(platform::Quote(month.substr(0, 16)), " is not a month YYYY-MM"));
    } else if (m > current) {
      p.Add("month", absl::StrCat(Month(m), " is after the current month ", Month(current)));
    } else {
      q.month = m;
    }
  }
  if (!p.ok()) return p.Result();
  if (!q.team_id.empty() && rules_->teams().Find(q.team_id) == nullptr) {
    return absl::NotFoundError(absl::StrCat("team: ", platform::Quote(q.team_id), " is not a team of the registry"));
  }
  if (!q.service_area.empty() && rules_->service_areas().Find(q.service_area) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("service_area: ", platform::Quote(q.service_area), " is not a service area of the rules"));
  }
  // Both given must agree, or the panels would answer for nobody while the KPIs answer for the team.
  if (const care::Team* team = q.team_id.empty() ? nullptr : rules_->teams().Find(q.team_id);
      team != nullptr && !q.service_area.empty() && team->service_area != q.service_area) {
    return absl::InvalidArgumentError(absl::StrCat("service_area: team ", q.team_id, " is in ", team->service_area,
                                                   ", not ", q.service_area));
  }
  return q;
}

std::string Dashboard::Status() const {
  const absl::Time now = clock_.Now();
  const platform::Consumer::Progress progress = status_.progress ? status_.progress() : platform::Consumer::Progress{};
  Json j;
  j["service"] = "reporting";
  j["now"] = TimeOrNull(now);
  j["today"] = Day(platform::ClinicalDay(now));
  j["started_at"] = TimeOrNull(status_.started_at);
  j["caught_up"] = progress.caught_up;
  j["lag_messages"] = progress.lag.has_value() ? Json(*progress.lag) : Json(nullptr);
  j["lag_measured_at"] = TimeOrNull(progress.lag_measured_at);
  j["last_applied_at"] = TimeOrNull(progress.last_write_at);
  j["paused"] = progress.paused;
  // Behind: still reading the topics after a start, messages waiting, or the store refusing writes.
  j["behind"] = !progress.caught_up || progress.paused || (progress.lag.has_value() && *progress.lag > 0);
  j["rule_version"] = rules_->version();
  return j.dump();
}

std::string Dashboard::Filters() const {
  Json teams = Json::array();
  std::set<std::string> commissioners;
  for (const auto& [id, team] : rules_->teams().teams) {
    teams.push_back({{"id", id}, {"name", team.name}, {"service_area", team.service_area},
                     {"default_commissioner", team.default_commissioner}});
    if (!team.default_commissioner.empty()) commissioners.insert(team.default_commissioner);
  }
  for (const auto& list : rules_->price_lists()) commissioners.insert(list.commissioner);
  commissioners.insert("unknown");  // assessments that named no commissioner, as the KPIs count them
  Json areas = Json::array();
  for (const auto& a : rules_->service_areas().areas) areas.push_back({{"id", a.id}, {"label", a.label}});
  Json j;
  j["teams"] = std::move(teams);
  j["service_areas"] = std::move(areas);
  j["commissioners"] = commissioners;
  j["current_month"] = Month(absl::CivilMonth(platform::ClinicalDay(clock_.Now())));
  return j.dump();
}

absl::StatusOr<std::string> Dashboard::Reviews(const DashboardQuery& q) const {
  ReviewFilter filter{q.team_id, q.service_area, q.commissioner_id};
  auto reviews = ReviewsOverdueAndDueSoon(store_, rules_->teams(), filter, platform::ClinicalDay(clock_.Now()),
                                          kDueWithinDays, kMaxListedReviews);
  if (!reviews.ok()) return reviews.status();
  Json groups = Json::array();
  for (const OverdueGroup& g : reviews->overdue_by_team_cluster) {
    groups.push_back({{"team_id", g.team_id}, {"cluster", g.cluster}, {"overdue", g.overdue},
                      {"oldest_due_date", Day(g.oldest_due_date)}, {"most_days_overdue", g.most_days_overdue}});
  }
  Json overdue = Json::array(), due = Json::array();
  for (const ListedReview& r : reviews->overdue) overdue.push_back(ReviewJson(r));
  for (const ListedReview& r : reviews->due_soon) due.push_back(ReviewJson(r));
  Json j;
  j["today"] = Day(reviews->today);
  j["due_soon_until"] = Day(reviews->due_soon_until);
  j["overdue_total"] = reviews->overdue_total;
  j["overdue_by_team_cluster"] = std::move(groups);
  j["overdue"] = std::move(overdue);
  j["due_soon_total"] = reviews->due_soon_total;
  j["due_soon"] = std::move(due);
  j["list_limit"] = kMaxListedReviews;
  return j.dump();
}

absl::StatusOr<std::string> Dashboard::Kpis(const DashboardQuery& q) const {
  const absl::CivilDay today = platform::ClinicalDay(clock_.Now());
  pbr::v1::GetKpisRequest request;
  *request.mutable_scope() = ScopeOf(q);
  request.mutable_month()->set_year(static_cast<int32_t>(q.month.year()));
  request.mutable_month()->set_month(q.month.month());
  auto report = api_.GetKpis(request, today);
  if (!report.ok()) return report.status();
  pbr::v1::GetNationalMeasuresRequest national;
  *national.mutable_scope() = request.scope();
  *national.mutable_month() = request.month();
  auto measures = api_.GetNationalMeasures(national);
  if (!measures.ok()) return measures.status();

  const care::KpiSettings& settings = rules_->kpis();
  const double amber = settings.amber_points_below_target;
  Json kpis = Json::array();
  for (const pbr::v1::KpiValue& k : report->kpis()) {
    const std::optional<double> percent = k.has_percent() ? std::optional<double>(k.percent()) : std::nullopt;
    kpis.push_back({{"id", k.id()}, {"title", k.title()}, {"numerator", k.numerator()},
                    {"denominator", k.denominator()}, {"percent", PercentOrNull(k.has_percent(), k.percent())},
                    {"target_percent", k.target_percent()}, {"met", k.met()},
                    {"status", care::KpiStatusName(care::StatusAgainstTarget(percent, k.target_percent(), amber))},
                    {"counted", k.counted()}});
  }
  // ACC37 over every cluster at the month's end, against the kpis file's ACC37 target.
  const pbr::v1::NationalMeasure& all = measures->all();
  auto acc37_def = settings.kpis.find("ACC37");
  const double acc37_target = acc37_def != settings.kpis.end() ? acc37_def->second.target_percent : 0;
  const std::optional<double> acc37 = all.acc33() > 0 ? std::optional<double>(all.acc37()) : std::nullopt;
  Json j;
  j["scope"] = {{"kind", ScopeKindName(request.scope().kind())}, {"id", request.scope().id()}};
  j["month"] = Month(q.month);
  j["period_start"] = Day(report->period_start());
  j["period_end"] = Day(report->period_end());
  j["stock_day"] = Day(report->stock_day());
  j["judged_on"] = Day(report->judged_on());
  j["rule_version"] = report->rule_version();
  j["status_bands"] = {{"green", "at or above the target"},
                       {"amber", absl::StrFormat("below the target by at most %g percentage points", amber)},
                       {"red", absl::StrFormat("more than %g percentage points below the target", amber)},
                       {"no_data", "nothing to count in the period"},
                       {"amber_points_below_target", amber}};
  j["kpis"] = std::move(kpis);
  j["acc37"] = {{"id", "ACC37"},
                {"title", acc37_def != settings.kpis.end() ? acc37_def->second.title : "ACC37"},
                {"period_end", Day(measures->period_end())},
                {"numerator", all.acc36()},
                {"denominator", all.acc33()},
                {"percent", OptionalOrNull(acc37)},
                {"target_percent", acc37_target},
                {"met", acc37.has_value() && *acc37 >= acc37_target},
                {"status", care::KpiStatusName(care::StatusAgainstTarget(acc37, acc37_target, amber))},
                {"rule_version", measures->rule_version()}};
  return j.dump();
}

absl::StatusOr<std::string> Dashboard::Caseloads(const DashboardQuery& q) const {
  const std::vector<const care::Team*> teams = TeamsOf(*rules_, q);
  Json rows = Json::array();
  for (size_t i = 0; i < teams.size() && i < kMaxCaseloadTeams; ++i) {
    pbr::v1::GetCaseloadRequest request;
    request.set_team_id(teams[i]->id);
    auto c = api_.GetCaseload(request);
    if (!c.ok()) return c.status();
    Json clusters = Json::array();
    for (const pbr::v1::ClusterCaseload& k : c->clusters()) {
      clusters.push_back({{"cluster", k.cluster()}, {"super_class", k.super_class()}, {"people", k.people()},
                          {"indicative_period", k.indicative_period()},
                          {"beyond_indicative_period", k.beyond_indicative_period()},
                          {"mean_days_in_cluster", k.mean_days_in_cluster()},
                          {"reviews_due", k.reviews_due()}, {"reviews_overdue", k.reviews_overdue()}});
    }
    std::map<std::string, int> reasons;
    Json discuss = Json::array();
    for (const pbr::v1::CaseloadPerson& p : c->persons()) {
      if (p.discuss().empty()) continue;
      Json why = Json::array();
      for (int r : p.discuss()) {
        const std::string name(ReasonName(static_cast<pbr::v1::DiscussionReason>(r)));
        ++reasons[name];
        why.push_back(name);
      }
      if (discuss.size() < kMaxListedReviews) {
        discuss.push_back({{"person_id", p.person_id()}, {"cluster", p.cluster()},
                           {"days_in_cluster", p.days_in_cluster()}, {"reasons", std::move(why)}});
      }
    }
    rows.push_back({{"team_id", teams[i]->id}, {"name", teams[i]->name}, {"service_area", teams[i]->service_area},
                    {"people", c->people()}, {"reviews_due", c->reviews_due()},
                    {"reviews_overdue", c->reviews_overdue()}, {"cases_to_discuss", c->cases_to_discuss()},
                    {"discussion_reasons", reasons}, {"clusters", std::move(clusters)},
                    {"to_discuss", std::move(discuss)}, {"as_of", Day(c->as_of())},
                    {"rule_version", c->rule_version()}});
  }
  Json j;
  j["teams"] = std::move(rows);
  j["teams_matching"] = teams.size();
  j["teams_limit"] = kMaxCaseloadTeams;
  return j.dump();
}

absl::StatusOr<std::string> Dashboard::Outcomes(const DashboardQuery& q) const {
  // The 12 months up to the KPI month, by the UK day of each episode's last valid rating.
  const absl::CivilMonth last = q.month;
  const absl::CivilMonth first = last - 11;
  std::set<std::string> teams;
  for (const care::Team* t : TeamsOf(*rules_, q)) teams.insert(t->id);
  auto outcomes = OutcomesByTeam(store_, first, last, &teams);
  if (!outcomes.ok()) return outcomes.status();
  const auto& factors = rules_->outcomes().factors;
  auto figures = [&factors](const care::OutcomeTally& t) {
    const care::OutcomeFigures f = care::FiguresOf(t);
    Json factor_rows = Json::array();
    for (size_t i = 0; i < factors.size() && i < f.mean_factor_change.size(); ++i) {
      factor_rows.push_back({{"id", factors[i].id}, {"name", factors[i].name},
                             {"episodes", i < t.factor_change_count.size() ? t.factor_change_count[i] : 0},
                             {"mean_change", OptionalOrNull(f.mean_factor_change[i])}});
    }
    return Json{{"episodes", t.episodes},
                {"paired", t.paired},
                {"improved", t.improved},
                {"no_reliable_change", t.no_reliable_change},
                {"deteriorated", t.deteriorated},
                {"share_improved", OptionalOrNull(f.share_improved)},
                {"share_no_reliable_change", OptionalOrNull(f.share_no_reliable_change)},
                {"share_deteriorated", OptionalOrNull(f.share_deteriorated)},
                {"mean_total_change", OptionalOrNull(f.mean_total_change)},
                {"with_expected_pattern", t.with_expected},
                {"matching_expected", t.matching_expected},
                {"share_matching_expected", OptionalOrNull(f.share_matching_expected)},
                {"factors", std::move(factor_rows)}};
  };
  Json rows = Json::array();
  for (const auto& [team, tally] : outcomes->teams) {
    Json row = figures(tally);
    row["team_id"] = team;
    rows.push_back(std::move(row));
  }
  Json j;
  j["from_month"] = Month(first);
  j["to_month"] = Month(last);
  j["teams"] = std::move(rows);
  j["all"] = figures(outcomes->all);
  j["rule_version"] = rules_->outcomes().version;
  return j.dump();
}

absl::StatusOr<std::string> Dashboard::Everything(const DashboardQuery& q) const {
  auto reviews = Reviews(q);
  if (!reviews.ok()) return reviews.status();
  auto kpis = Kpis(q);
  if (!kpis.ok()) return kpis.status();
  auto caseloads = Caseloads(q);
  if (!caseloads.ok()) return caseloads.status();
  auto outcomes = Outcomes(q);
  if (!outcomes.ok()) return outcomes.status();
  Json j;
  j["status"] = Json::parse(Status());
  j["filters"] = {{"team", q.team_id}, {"service_area", q.service_area}, {"commissioner", q.commissioner_id},
                  {"month", Month(q.month)}};
  j["reviews"] = Json::parse(*reviews);
  j["kpis"] = Json::parse(*kpis);
  j["caseloads"] = Json::parse(*caseloads);
  j["outcomes"] = Json::parse(*outcomes);
  return j.dump();
}

void Dashboard::Register(const std::function<void(const std::string&, platform::HttpHandler)>& serve) const {
  for (const PageAsset& asset : PageAssets()) {
    platform::HttpResponse r;
    r.content_type = std::string(asset.content_type);
    r.body = std::string(asset.body);
    r.max_age_seconds = 0;  // a new build's page is picked up at once
    serve(std::string(asset.path), [r](const platform::HttpRequest&) { return r; });
    if (asset.path == "/index.html") serve("/", [r](const platform::HttpRequest&) { return r; });
  }
  serve("/api/v1/status", [this](const platform::HttpRequest&) { return JsonAnswer(Status()); });
  serve("/api/v1/filters", [this](const platform::HttpRequest&) { return JsonAnswer(Filters()); });
  auto with_query = [this](absl::StatusOr<std::string> (Dashboard::*answer)(const DashboardQuery&) const) {
    return [this, answer](const platform::HttpRequest& request) {
      auto q = ParseQuery(request);
      if (!q.ok()) return JsonAnswer(q.status());
      return JsonAnswer((this->*answer)(*q));
    };
  };
  serve("/api/v1/reviews", with_query(&Dashboard::Reviews));
  serve("/api/v1/kpis", with_query(&Dashboard::Kpis));
  serve("/api/v1/caseloads", with_query(&Dashboard::Caseloads));
  serve("/api/v1/outcomes", with_query(&Dashboard::Outcomes));
  serve("/api/v1/dashboard", with_query(&Dashboard::Everything));
}

}  // namespace pbr::reporting
