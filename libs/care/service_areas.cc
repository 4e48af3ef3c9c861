#include "care/service_areas.h"
#include "internal.h"

#include "absl/strings/str_cat.h"
#include "care/catalogue.h"

namespace care {

const ServiceArea* ServiceAreas::Find(std::string_view id) const {
  for (const auto& a : areas) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

std::string_view ServiceAreaFitName(ServiceAreaFit fit) {
  switch (fit) {
    case ServiceAreaFit::kAllowed: return "allowed";
    case ServiceAreaFit::kAllowedRarely: return "allowed_rarely";
    case ServiceAreaFit::kNotAllowed: return "not_allowed";
  }
  return "?";
}

absl::StatusOr<ServiceAreaDecision> CheckServiceArea(const ServiceAreas& areas,
                                                     std::string_view area_id, int cluster) {
  if (!IsValidClusterId(cluster)) {
    return absl::InvalidArgumentError(
        internal::Cat("cluster: ", cluster, " is not a valid cluster (0-21, never 9)"));
  }
  const ServiceArea* area = areas.Find(area_id);
  if (area == nullptr) {
    return absl::NotFoundError(internal::Cat("service_area: \"", area_id, "\" is not a known service area"));
  }
  ServiceAreaDecision d;
  d.rule_version = areas.version;
  if (area->allowed.count(cluster)) {
    d.fit = ServiceAreaFit::kAllowed;
    d.reason = internal::Cat("Cluster ", cluster, " is one of the clusters ", area->label, " hold.");
  } else if (area->rarely.count(cluster)) {
    d.fit = ServiceAreaFit::kAllowedRarely;
    d.reason = internal::Cat("Cluster ", cluster, " is only rarely held by ", area->label,
                            ": allowed, but flagged for review.");
  } else {
    d.fit = ServiceAreaFit::kNotAllowed;
    d.reason = internal::Cat("Cluster ", cluster, " is not a cluster ", area->label,
                            " hold (counts against KPI 3).");
  }
  return d;
}

}  // namespace care
