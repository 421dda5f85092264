// test_version.cpp: the core's version string is package.json's (one version for the whole project),
// read here from the source tree so a hard-coded or stale string fails.
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include "check.h"
namespace crossgate { const char* core_version(); }

TEST(core_version_is_package_json_version) {
  std::ifstream in(std::string(CROSSGATE_SOURCE_DIR) + "/package.json");
  std::stringstream text;
  text << in.rdbuf();
  const std::string json = text.str();
  const std::string key = "\"version\": \"";
  const std::size_t at = json.find(key);
  CHECK(at != std::string::npos);
  const std::size_t end = json.find('"', at + key.size());
  const std::string want = json.substr(at + key.size(), end - at - key.size());
  CHECK(!want.empty());
  CHECK(want == std::string(crossgate::core_version()));
}
