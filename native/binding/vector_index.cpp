// vector_index.cpp: the NativeVectorIndex N-API class around crossgate::FlatIndex.
// Argument checks, AsyncWorkers (search, searchBatch, save, load) and IndexError -> JS error mapping.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "index.h"
#include "index_common.h"
#include "kernels.h"

namespace {

using crossgate::BatchHits;
using crossgate::FlatIndex;
using crossgate::IndexError;
using crossgate::SearchHit;
using crossgate::Storage;

using namespace crossgate_binding;

template <class F>
auto guarded(Napi::Env env, F&& body) -> decltype(body()) {
  return guarded_index(env, "VectorIndex", std::forward<F>(body));
}

Napi::Float32Array expect_f32(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a Float32Array; got " + js_type(v));
  }
  return v.As<Napi::Float32Array>();
}

class SearchWorker : public PromiseWorker {
 public:
  SearchWorker(Napi::Env env, Napi::Value self, std::shared_ptr<FlatIndex> core, std::vector<float> queries,
               size_t nq, size_t k, bool batch)
      : PromiseWorker(env, "crossgate.VectorIndex.search", self),
        core_(std::move(core)),
        queries_(std::move(queries)),
        nq_(nq),
        k_(k),
        batch_(batch) {}

 protected:
  void Run() override {
    if (batch_) {
      result_ = core_->search_batch(queries_.data(), nq_, k_);
    } else {
      auto hits = core_->search(queries_.data(), k_);
      result_.nq = 1;
      result_.k = hits.size();
      for (auto& h : hits) {
        result_.ids.push_back(h.id);
        result_.scores.push_back(h.score);
      }
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = hits_object(env, result_.ids.data(), result_.scores.data(), result_.ids.size());
    o.Set("k", Napi::Number::New(env, static_cast<double>(result_.k)));
    return o;
  }

 private:
  std::shared_ptr<FlatIndex> core_;
  std::vector<float> queries_;
  size_t nq_, k_;
  bool batch_;
  BatchHits result_;
};

class SaveWorker : public PromiseWorker {
 public:
  SaveWorker(Napi::Env env, Napi::Value self, std::shared_ptr<FlatIndex> core, std::string path)
      : PromiseWorker(env, "crossgate.VectorIndex.save", self), core_(std::move(core)), path_(std::move(path)) {}

 protected:
  void Run() override { core_->save(path_); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<FlatIndex> core_;
  std::string path_;
};

class NativeVectorIndex : public Napi::ObjectWrap<NativeVectorIndex> {
 public:
  static Napi::Function Define(Napi::Env env) {
    // The constructor reference lets load() create instances; it lives as long as this env.
    auto* ctor = new Napi::FunctionReference();
    Napi::Function cls = DefineClass(
        env, "NativeVectorIndex",
        {
            InstanceAccessor<&NativeVectorIndex::Dim>("dim"),
            InstanceAccessor<&NativeVectorIndex::StorageName>("storage"),
            InstanceAccessor<&NativeVectorIndex::Count>("count"),
            InstanceAccessor<&NativeVectorIndex::VectorBytes>("vectorBytes"),
            InstanceMethod<&NativeVectorIndex::Add>("add"),
            InstanceMethod<&NativeVectorIndex::Remove>("remove"),
            InstanceMethod<&NativeVectorIndex::Has>("has"),
            InstanceMethod<&NativeVectorIndex::SearchSync>("searchSync"),
            InstanceMethod<&NativeVectorIndex::Search>("search"),
            InstanceMethod<&NativeVectorIndex::SearchBatch>("searchBatch"),
            InstanceMethod<&NativeVectorIndex::Save>("save"),
            StaticMethod("load", &NativeVectorIndex::Load, napi_default, ctor),
            StaticMethod("simdLevel", &NativeVectorIndex::SimdLevelName),
        });
    *ctor = Napi::Persistent(cls);
    env.AddCleanupHook([ctor]() { delete ctor; });
    return cls;
  }

  // new NativeVectorIndex(dim: number, storage: 'f32' | 'f16' | 'int8')
  explicit NativeVectorIndex(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeVectorIndex>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (!info[0].IsNumber()) throw Napi::TypeError::New(env, std::string("dim must be a number; got ") + js_type(info[0]));
      const double d = info[0].As<Napi::Number>().DoubleValue();
      if (!(d >= 1 && d <= crossgate::kMaxDim) || std::floor(d) != d) {
        throw Napi::RangeError::New(env, "dim is " + fmt_number(d) + "; dim must be an integer from 1 to " +
                                             std::to_string(crossgate::kMaxDim));
      }
      Storage st = Storage::F32;
      if (!info[1].IsUndefined()) {
        if (!info[1].IsString()) throw Napi::TypeError::New(env, std::string("storage must be a string; got ") + js_type(info[1]));
        const std::string name = info[1].As<Napi::String>().Utf8Value();
        if (!crossgate::parse_storage(name, &st)) {
          throw Napi::RangeError::New(env, "storage is '" + name + "'; use 'f32', 'f16' or 'int8'");
        }
      }
      core_ = std::make_shared<FlatIndex>(static_cast<uint32_t>(d), st);
    });
  }

 private:
  // Accessors are guarded too: count() and vector_bytes() take the index lock, which can throw system_error.
  Napi::Value Dim(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return Napi::Number::New(env, core_->dim()); });
  }
  Napi::Value StorageName(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return Napi::String::New(env, crossgate::storage_name(core_->storage())); });
  }
  Napi::Value Count(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return Napi::Number::New(env, static_cast<double>(core_->count())); });
  }
  Napi::Value VectorBytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return Napi::Number::New(env, static_cast<double>(core_->vector_bytes())); });
  }

  // add(ids: Float64Array, vectors: Float32Array of ids.length * dim)
  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      Napi::Float64Array jids = expect_f64(env, info[0], "ids");
      Napi::Float32Array vecs = expect_f32(env, info[1], "vectors");
      const size_t n = jids.ElementLength(), dim = core_->dim();
      if (vecs.ElementLength() != n * dim) {
        throw Napi::RangeError::New(env, "vectors has " + std::to_string(vecs.ElementLength()) + " values; " +
                                             std::to_string(n) + " ids x dim " + std::to_string(dim) + " needs " +
                                             std::to_string(n * dim));
      }
      std::vector<uint64_t> ids = to_ids(env, jids, "ids");
      core_->add(ids.data(), vecs.Data(), n);
      return env.Undefined();
    });
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::vector<uint64_t> ids = to_ids(env, expect_f64(env, info[0], "ids"), "ids");
      return Napi::Number::New(env, static_cast<double>(core_->remove(ids.data(), ids.size())));
    });
  }

  Napi::Value Has(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!info[0].IsNumber()) throw Napi::TypeError::New(env, std::string("id must be a number; got ") + js_type(info[0]));
      const uint64_t id = to_id(env, info[0].As<Napi::Number>().DoubleValue(), "id");
      return Napi::Boolean::New(env, core_->has(id));
    });
  }

  Napi::Float32Array query_arg(Napi::Env env, const Napi::Value& v) {
    Napi::Float32Array q = expect_f32(env, v, "query");
    if (q.ElementLength() != core_->dim()) {
      throw Napi::RangeError::New(env, "query has " + std::to_string(q.ElementLength()) + " values; the index dim is " +
                                           std::to_string(core_->dim()));
    }
    return q;
  }

  Napi::Value SearchSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      Napi::Float32Array q = query_arg(env, info[0]);
      const size_t k = to_k(env, info[1]);
      return hits_object(env, core_->search(q.Data(), k));
    });
  }

  Napi::Value Search(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      Napi::Float32Array q = query_arg(env, info[0]);
      const size_t k = to_k(env, info[1]);
      // The worker copies the query: the caller may reuse its buffer before the search runs.
      std::vector<float> copy(q.Data(), q.Data() + q.ElementLength());
      auto w = std::make_unique<SearchWorker>(env, info.This(), core_, std::move(copy), 1, k, false);
      Napi::Promise p = w->Promise();
      w->Queue();  // from here the worker deletes itself when it completes
      w.release();
      return p;
    });
  }

  // searchBatch(queries: Float32Array of nq * dim, k) -> {k, ids, scores} flattened nq * k
  Napi::Value SearchBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      Napi::Float32Array qs = expect_f32(env, info[0], "queries");
      const size_t dim = core_->dim();
      if (qs.ElementLength() % dim != 0) {
        throw Napi::RangeError::New(env, "queries has " + std::to_string(qs.ElementLength()) +
                                             " values, not a multiple of the index dim " + std::to_string(dim));
      }
      const size_t k = to_k(env, info[1]);
      std::vector<float> copy(qs.Data(), qs.Data() + qs.ElementLength());
      auto w = std::make_unique<SearchWorker>(env, info.This(), core_, std::move(copy), qs.ElementLength() / dim, k, true);
      Napi::Promise p = w->Promise();
      w->Queue();  // from here the worker deletes itself when it completes
      w.release();
      return p;
    });
  }

  Napi::Value Save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto w = std::make_unique<SaveWorker>(env, info.This(), core_, to_path(env, info[0], "index"));
      Napi::Promise p = w->Promise();
      w->Queue();  // from here the worker deletes itself when it completes
      w.release();
      return p;
    });
  }

  class LoadWorker : public PromiseWorker {
   public:
    LoadWorker(Napi::Env env, Napi::FunctionReference* ctor, std::string path)
        : PromiseWorker(env, "crossgate.VectorIndex.load", env.Undefined()), ctor_(ctor), path_(std::move(path)) {}

   protected:
    void Run() override { loaded_ = FlatIndex::load(path_); }
    Napi::Value Result(Napi::Env env) override {
      Napi::Object obj = ctor_->New({Napi::Number::New(env, loaded_->dim()),
                                     Napi::String::New(env, crossgate::storage_name(loaded_->storage()))});
      NativeVectorIndex::Unwrap(obj)->core_ = std::shared_ptr<FlatIndex>(std::move(loaded_));
      return obj;
    }

   private:
    Napi::FunctionReference* ctor_;
    std::string path_;
    std::unique_ptr<FlatIndex> loaded_;
  };

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
      auto w = std::make_unique<LoadWorker>(env, ctor, to_path(env, info[0], "index"));
      Napi::Promise p = w->Promise();
      w->Queue();  // from here the worker deletes itself when it completes
      w.release();
      return p;
    });
  }

  static Napi::Value SimdLevelName(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      return Napi::String::New(env, crossgate::simd_level_name(crossgate::active_kernels().level));
    });
  }

  // Shared with in-flight workers, so a search finishing after the JS object is collected is safe.
  std::shared_ptr<FlatIndex> core_;
};

}  // namespace

Napi::Object InitVectorIndex(Napi::Env env, Napi::Object exports) {
  try {
    exports.Set("NativeVectorIndex", NativeVectorIndex::Define(env));
  } catch (const std::exception& e) {  // Napi::Error too: it derives from std::exception
    Napi::Error::New(env, std::string("crossgate: NativeVectorIndex failed to register: ") + e.what()).ThrowAsJavaScriptException();
  } catch (...) {
    Napi::Error::New(env, "crossgate: NativeVectorIndex failed to register").ThrowAsJavaScriptException();
  }
  return exports;
}
