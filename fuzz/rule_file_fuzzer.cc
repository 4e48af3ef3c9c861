// libFuzzer target: the rule-file loader (libs/care/loader.cc) on one file's bytes. ValidateRuleFile
// reads the `kind:` line and runs that kind's parser, as RuleSet::LoadFromDirectory does for each file
// of a rules directory and pbr_rulecheck does for one file. A bad file must be an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "care/rule_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  (void)care::ValidateRuleFile(yaml, "fuzz.yaml");
  return 0;
}
