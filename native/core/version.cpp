// version.cpp: the core's version string, so the core library is never empty.
// The binding and the tests both read it.
namespace crossgate {
const char* core_version() { return "0.1.0"; }
}  // namespace crossgate
