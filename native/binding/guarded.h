// guarded.h: the one try/catch every binding entry point runs its body in, so that no C++ exception
// ever crosses into JS (NAPI_CPP_EXCEPTIONS turns only Napi::Error into a JS exception).
#pragma once
#include <exception>
#include <string>
#include <utility>
#include <napi.h>

namespace crossgate_binding {

// Runs body; a Napi::Error passes through, a std::exception becomes what to_js(e) makes of it, anything
// else a plain Error naming `where`.
template <class F, class ToJs>
auto guarded_call(Napi::Env env, const char* where, F&& body, ToJs&& to_js) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw to_js(e);
  } catch (...) {
    throw Napi::Error::New(env, std::string("crossgate: unknown native error in ") + where);
  }
}

}  // namespace crossgate_binding
