// Which clusters each service area may hold (SOP Tables 2 and 3; reference section 2).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace care {

struct ServiceArea {
  std::string id;     // e.g. "inpatient", "crht"
  std::string label;  // e.g. "Inpatient wards"
  bool acute_pathway = false;  // CRHT and inpatients: the acute pathway (cluster 11 never used there)
  std::set<int> allowed;       // clusters the area normally holds
  std::set<int> rarely;        // allowed but flagged ("4 rarely")
};

struct ServiceAreas {
  std::string version;
  std::vector<ServiceArea> areas;
  const ServiceArea* Find(std::string_view id) const;  // nullptr when absent
};

enum class ServiceAreaFit {
  kAllowed,      // the cluster is one the area holds
  kAllowedRarely,  // allowed but flagged for attention ("rarely" in the SOP)
  kNotAllowed,   // outside the area's list: KPI 3 counts it as inappropriate
};
std::string_view ServiceAreaFitName(ServiceAreaFit fit);  // "allowed", "allowed_rarely", "not_allowed"

struct ServiceAreaDecision {
  ServiceAreaFit fit = ServiceAreaFit::kNotAllowed;
  bool appropriate() const { return fit != ServiceAreaFit::kNotAllowed; }
  bool flagged() const { return fit == ServiceAreaFit::kAllowedRarely; }
  std::string reason;  // one sentence for the clinician
  std::string rule_version;
};

// NotFound for an unknown area id, InvalidArgument for an invalid cluster id.
absl::StatusOr<ServiceAreaDecision> CheckServiceArea(const ServiceAreas& areas,
                                                     std::string_view area_id, int cluster);

}  // namespace care
