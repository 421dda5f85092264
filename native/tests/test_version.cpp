// test_version.cpp: the smallest test, proving the harness and the core link.
// Real suites live beside it, one file per area.
#include <cstring>
#include "check.h"
namespace crossgate { const char* core_version(); }
TEST(core_version_is_set) { CHECK(std::strlen(crossgate::core_version()) > 0); }
