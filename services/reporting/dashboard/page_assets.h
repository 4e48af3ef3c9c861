#pragma once
// The dashboard page's files (dashboard/page/), compiled into the binary at build time
// (cmake/EmbedPageAssets.cmake), so the service serves every asset itself and nothing is fetched from
// anywhere else.
#include <string_view>
#include <vector>

namespace pbr::reporting {

struct PageAsset {
  std::string_view path;          // "/index.html", "/dashboard.js", ...
  std::string_view content_type;
  std::string_view body;
};
const std::vector<PageAsset>& PageAssets();

}  // namespace pbr::reporting
