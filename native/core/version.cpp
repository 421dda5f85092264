// version.cpp: the core's version string, so the core library is never empty.
// Its value is package.json's version (CMakeLists.txt passes it in); the core tests check the two agree.
#ifndef CROSSGATE_VERSION
#error "CROSSGATE_VERSION is set by CMakeLists.txt from package.json"
#endif
namespace crossgate {
const char* core_version() { return CROSSGATE_VERSION; }
}  // namespace crossgate
