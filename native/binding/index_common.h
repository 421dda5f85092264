// index_common.h: what the two index bindings (vector_index.cpp, keyword_index.cpp) share: argument
// checks that name the argument and the fix, the IndexError/AnalyzerError -> JS error mapping (with the
// ERR_CROSSGATE_INDEX_IO / _CORRUPT codes), the guarded entry-point wrapper, the {ids, scores} result and
// the promise-returning AsyncWorker. Header-only: each binding file includes it once.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "analyzer.h"
#include "guarded.h"
#include "index.h"

namespace crossgate_binding {

inline std::string fmt_number(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

inline const char* js_type(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return v.IsArray() ? "an array" : v.IsTypedArray() ? "a typed array of another kind" : "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

// What kind of C++ error was thrown, kept as a value so a worker can rebuild the JS error on the main thread.
struct ErrorClass {
  enum class Of { Plain, Index, Analyzer } of = Of::Plain;
  crossgate::IndexError::Kind kind = crossgate::IndexError::Kind::Io;
};

inline ErrorClass classify(const std::exception& e) {
  if (auto* ie = dynamic_cast<const crossgate::IndexError*>(&e)) return {ErrorClass::Of::Index, ie->kind()};
  if (dynamic_cast<const crossgate::analysis::AnalyzerError*>(&e)) return {ErrorClass::Of::Analyzer, {}};
  return {};
}

// IndexError kinds map onto the JS error classes; I/O and corrupt-file errors carry a code so callers can
// tell them apart without parsing messages. A bad analyzer option is a RangeError.
inline Napi::Error to_js_error(Napi::Env env, ErrorClass c, const std::string& msg) {
  using Kind = crossgate::IndexError::Kind;
  if (c.of == ErrorClass::Of::Analyzer) return Napi::RangeError::New(env, msg);
  if (c.of == ErrorClass::Of::Plain) return Napi::Error::New(env, msg);
  switch (c.kind) {
    case Kind::Type: return Napi::TypeError::New(env, msg);
    case Kind::Range: return Napi::RangeError::New(env, msg);
    case Kind::Io:
    case Kind::Corrupt: {
      Napi::Error e = Napi::Error::New(env, msg);
      e.Value().Set("code", c.kind == Kind::Io ? "ERR_CROSSGATE_INDEX_IO" : "ERR_CROSSGATE_INDEX_CORRUPT");
      return e;
    }
  }
  return Napi::Error::New(env, msg);
}

// Runs body; any C++ exception leaves as a JS exception, never as a C++ one. `where` names the class.
template <class F>
auto guarded_index(Napi::Env env, const char* where, F&& body) -> decltype(body()) {
  return guarded_call(env, where, std::forward<F>(body),
                      [&](const std::exception& e) { return to_js_error(env, classify(e), e.what()); });
}

inline uint64_t to_id(Napi::Env env, double d, const std::string& where) {
  if (!(d >= 0) || d > static_cast<double>(crossgate::kMaxId) || std::floor(d) != d) {
    throw Napi::RangeError::New(env, where + " is " + fmt_number(d) + "; ids must be integers from 0 to 2^53 - 1");
  }
  return static_cast<uint64_t>(d);
}

inline Napi::Float64Array expect_f64(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a Float64Array; got " + js_type(v));
  }
  return v.As<Napi::Float64Array>();
}

inline std::vector<uint64_t> to_ids(Napi::Env env, const Napi::Value& v, const char* name) {
  Napi::Float64Array a = expect_f64(env, v, name);
  std::vector<uint64_t> ids(a.ElementLength());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = to_id(env, a[i], std::string(name) + "[" + std::to_string(i) + "]");
  return ids;
}

inline size_t to_k(Napi::Env env, const Napi::Value& v) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("k must be a number; got ") + js_type(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1) || std::isinf(d) || std::floor(d) != d) throw Napi::RangeError::New(env, "k is " + fmt_number(d) + "; k must be a positive integer");
  return d >= 1.8e19 ? std::numeric_limits<size_t>::max() : static_cast<size_t>(d);
}

// `what` names the file in the empty-path message: "index", "keyword index".
inline std::string to_path(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string("path must be a string; got ") + js_type(v));
  std::string p = v.As<Napi::String>().Utf8Value();
  if (p.empty()) throw Napi::TypeError::New(env, std::string("path is empty; pass the ") + what + " file's path");
  if (p.find('\0') != std::string::npos) throw Napi::TypeError::New(env, "path contains a NUL byte");
  return p;
}

inline Napi::Object hits_object(Napi::Env env, const uint64_t* ids, const float* scores, size_t n) {
  Napi::Float64Array jid = Napi::Float64Array::New(env, n);
  Napi::Float32Array jsc = Napi::Float32Array::New(env, n);
  for (size_t i = 0; i < n; ++i) {
    jid[i] = static_cast<double>(ids[i]);
    jsc[i] = scores[i];
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("ids", jid);
  o.Set("scores", jsc);
  return o;
}

inline Napi::Object hits_object(Napi::Env env, const std::vector<crossgate::SearchHit>& hits) {
  std::vector<uint64_t> ids(hits.size());
  std::vector<float> scores(hits.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    ids[i] = hits[i].id;
    scores[i] = hits[i].score;
  }
  return hits_object(env, ids.data(), scores.data(), hits.size());
}

// A promise-returning AsyncWorker. Run() executes on the libuv pool and never touches N-API; Result()
// builds JS values on the main thread. It keeps the JS object it was called on alive. `name`
// ("crossgate.KeywordIndex.search") names the call in the message of a non-standard exception.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* name, Napi::Value self)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), where_(name) {
    if (self.IsObject()) self_ = Napi::Persistent(self.As<Napi::Object>());
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  std::string unknown() const { return std::string("crossgate: unknown native error in ") + where_; }
  void Execute() override {
    try {
      Run();
    } catch (const std::exception& e) {
      class_ = classify(e);
      SetError(e.what());
    } catch (...) {
      SetError(unknown());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(to_js_error(env, classify(e), e.what()).Value());
    } catch (...) {
      deferred_.Reject(Napi::Error::New(env, unknown()).Value());
    }
  }
  // Runs inside node-addon-api's callback wrapper, which converts only Napi::Error.
  void OnError(const Napi::Error& e) override {
    Napi::Env env = Env();
    guarded_index(env, where_, [&] { deferred_.Reject(to_js_error(env, class_, e.Message()).Value()); });
  }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference self_;
  const char* where_;
  ErrorClass class_;
};

// Queues the worker and hands back its promise; from then on the worker deletes itself when it completes.
template <class W>
Napi::Promise queue(std::unique_ptr<W> w) {
  Napi::Promise p = w->Promise();
  w->Queue();
  w.release();
  return p;
}

}  // namespace crossgate_binding
