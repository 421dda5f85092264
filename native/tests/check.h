// check.h: a minimal self-registering unit-test harness for the Node-free core.
// TEST(name) { CHECK(cond); CHECK_EQ(a, b); CHECK_THROWS(expr); } — main.cpp runs them all.
#pragma once
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace cgtest {
struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}
struct Register {
  Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};
struct Failure {
  std::string what;
};
inline int& failures() {
  static int n = 0;
  return n;
}
}  // namespace cgtest

#define CG_CAT2(a, b) a##b
#define CG_CAT(a, b) CG_CAT2(a, b)
#define TEST(name)                                                          \
  static void name();                                                       \
  static ::cgtest::Register CG_CAT(cg_reg_, name)(#name, &name);            \
  static void name()

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::ostringstream cg_os;                                                          \
      cg_os << __FILE__ << ":" << __LINE__ << ": CHECK(" #cond ") failed";               \
      throw ::cgtest::Failure{cg_os.str()};                                              \
    }                                                                                    \
  } while (0)

#define CHECK_EQ(a, b)                                                                   \
  do {                                                                                   \
    auto cg_a = (a);                                                                     \
    auto cg_b = (b);                                                                     \
    if (!(cg_a == cg_b)) {                                                               \
      std::ostringstream cg_os;                                                          \
      cg_os << __FILE__ << ":" << __LINE__ << ": CHECK_EQ(" #a ", " #b ") failed: "      \
            << cg_a << " != " << cg_b;                                                   \
      throw ::cgtest::Failure{cg_os.str()};                                              \
    }                                                                                    \
  } while (0)

#define CHECK_THROWS(expr)                                                               \
  do {                                                                                   \
    bool cg_threw = false;                                                               \
    try {                                                                                \
      (void)(expr);                                                                      \
    } catch (const ::cgtest::Failure&) {                                                 \
      throw;                                                                             \
    } catch (...) {                                                                      \
      cg_threw = true;                                                                   \
    }                                                                                    \
    if (!cg_threw) {                                                                     \
      std::ostringstream cg_os;                                                          \
      cg_os << __FILE__ << ":" << __LINE__ << ": CHECK_THROWS(" #expr ") did not throw"; \
      throw ::cgtest::Failure{cg_os.str()};                                              \
    }                                                                                    \
  } while (0)
