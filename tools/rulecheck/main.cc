// pbr_rulecheck: validates rule and price files and prints every problem with its file:line:column and field.
//
//   pbr_rulecheck FILE...         validate each file on its own (its `kind:` says what it is)
//   pbr_rulecheck --dir DIR       load DIR/manifest.yaml and every file it names, with the cross-file checks
//
// Exit code: 0 when everything is valid, 1 when any problem was found, 2 on a usage error.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "care/rule_files.h"
#include "care/rules.h"

namespace {

int Usage() {
  std::cerr << "usage: pbr_rulecheck FILE...\n"
               "       pbr_rulecheck --dir RULES_DIR\n"
               "Validates care-cluster rule and price files; prints every problem as file:line:column: field: "
               "problem\nand exits non-zero when there is any.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") return Usage();
    if (a == "--dir") {
      if (i + 1 >= argc) return Usage();
      dirs.push_back(argv[++i]);
    } else if (a.rfind("--dir=", 0) == 0) {
      dirs.push_back(a.substr(6));
    } else if (!a.empty() && a[0] == '-') {
      return Usage();
    } else {
      files.push_back(a);
    }
  }
  if (files.empty() && dirs.empty()) return Usage();

  int bad = 0;
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::cout << path << ": cannot read the file\n";
      ++bad;
      continue;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    const absl::Status s = care::ValidateRuleFile(ss.str(), path);
    if (s.ok()) {
      auto kind = care::DetectRuleFileKind(ss.str(), path);
      std::cout << path << ": OK (" << care::RuleFileKindName(*kind) << ")\n";
    } else {
      std::cout << s.message() << "\n";
      ++bad;
    }
  }
  for (const std::string& dir : dirs) {
    absl::StatusOr<care::RuleSet> rules = care::RuleSet::LoadFromDirectory(dir);
    if (rules.ok()) {
      std::cout << dir << ": OK, rule set " << rules->version() << "\n";
      for (const auto& [part, version] : rules->file_versions()) {
        std::cout << "  " << part << ": " << version << "\n";
      }
      if (rules->profiles().example) {
        std::cout << "  warning: the scoring profiles are the EXAMPLE set, not the national grid\n";
      }
      if (rules->teams().example) {
        std::cout << "  warning: the teams are the EXAMPLE set, not this trust's teams\n";
      }
    } else {
      std::cout << rules.status().message() << "\n";
      ++bad;
    }
  }
  return bad == 0 ? 0 : 1;
}
