// main.cpp: runs every TEST registered by the native/tests/test_*.cpp files.
// Prints one line a case and a closing "N passed, N failed" line; exit code 1 on any failure.
#include <cstring>
#include <exception>

#include "check.h"

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (auto& c : cgtest::registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    try {
      c.fn();
      ++passed;
      std::cout << "ok   " << c.name << "\n";
    } catch (const cgtest::Failure& f) {
      ++failed;
      std::cout << "FAIL " << c.name << "\n  " << f.what << "\n";
    } catch (const std::exception& e) {
      ++failed;
      std::cout << "FAIL " << c.name << "\n  unexpected exception: " << e.what() << "\n";
    }
  }
  std::cout << "core: " << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
