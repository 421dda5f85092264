// keyword_index.cpp: the NativeKeywordIndex N-API class around crossgate::KeywordIndex.
// Argument checks, AsyncWorkers (add, search, save, load) and IndexError/AnalyzerError -> JS error mapping.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "index_common.h"
#include "keyword_index.h"

namespace {

using crossgate::IndexError;
using crossgate::KeywordDocument;
using crossgate::KeywordIndex;
using crossgate::SearchHit;
namespace analysis = crossgate::analysis;
namespace bm25 = crossgate::bm25;

using namespace crossgate_binding;

template <class F>
auto guarded(Napi::Env env, F&& body) -> decltype(body()) {
  return guarded_index(env, "KeywordIndex", std::forward<F>(body));
}

std::vector<std::string> to_strings(Napi::Env env, const Napi::Value& v, const char* name, size_t expect) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(name) + " must be an array of strings; got " + js_type(v));
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != expect) {
    throw Napi::RangeError::New(env, std::string(name) + " has " + std::to_string(a.Length()) + " items; ids has " + std::to_string(expect));
  }
  std::vector<std::string> out(expect);
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value s = a.Get(i);
    if (!s.IsString()) throw Napi::TypeError::New(env, std::string(name) + "[" + std::to_string(i) + "] must be a string; got " + js_type(s));
    out[i] = s.As<Napi::String>().Utf8Value();  // lone surrogates arrive as U+FFFD, which separates terms
  }
  return out;
}

std::string to_string_arg(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string(name) + " must be a string; got " + js_type(v));
  return v.As<Napi::String>().Utf8Value();
}

double opt_number(Napi::Env env, Napi::Object o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("options.") + key + " must be a number; got " + js_type(v));
  return v.As<Napi::Number>().DoubleValue();
}

bool opt_bool(Napi::Env env, Napi::Object o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsBoolean()) throw Napi::TypeError::New(env, std::string("options.") + key + " must be a boolean; got " + js_type(v));
  return v.As<Napi::Boolean>().Value();
}

// {language, stem, foldAccents, possessive, stopWords: 'default' | 'none' | string[], k1, b, titleWeight, luceneNorms}
void parse_options(Napi::Env env, const Napi::Value& v, analysis::AnalyzerOptions* ao, bm25::Params* p) {
  if (v.IsUndefined()) return;
  if (!v.IsObject() || v.IsArray()) throw Napi::TypeError::New(env, std::string("options must be an object; got ") + js_type(v));
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value lang = o.Get("language");
  if (!lang.IsUndefined()) ao->language = to_string_arg(env, lang, "options.language");
  ao->stem = opt_bool(env, o, "stem", ao->stem);
  ao->fold_accents = opt_bool(env, o, "foldAccents", ao->fold_accents);
  ao->possessive = opt_bool(env, o, "possessive", ao->possessive);
  Napi::Value stop = o.Get("stopWords");
  if (stop.IsString()) {
    const std::string s = stop.As<Napi::String>().Utf8Value();
    if (s == "default") ao->stop = analysis::StopWords::Default;
    else if (s == "none") ao->stop = analysis::StopWords::None;
    else throw Napi::RangeError::New(env, "options.stopWords is '" + s + "'; use 'default', 'none' or an array of words");
  } else if (stop.IsArray()) {
    Napi::Array a = stop.As<Napi::Array>();
    ao->stop = analysis::StopWords::Custom;
    ao->stop_words = to_strings(env, a, "options.stopWords", a.Length());
  } else if (!stop.IsUndefined()) {
    throw Napi::TypeError::New(env, std::string("options.stopWords must be 'default', 'none' or an array of strings; got ") + js_type(stop));
  }
  p->k1 = opt_number(env, o, "k1", p->k1);
  p->b = opt_number(env, o, "b", p->b);
  p->title_weight = opt_number(env, o, "titleWeight", p->title_weight);
  p->lucene_norms = opt_bool(env, o, "luceneNorms", p->lucene_norms);
}

class AddWorker : public PromiseWorker {
 public:
  AddWorker(Napi::Env env, Napi::Value self, std::shared_ptr<KeywordIndex> core, std::vector<uint64_t> ids,
            std::vector<std::string> titles, std::vector<std::string> texts)
      : PromiseWorker(env, "crossgate.KeywordIndex.add", self), core_(std::move(core)), ids_(std::move(ids)),
        titles_(std::move(titles)), texts_(std::move(texts)) {}

 protected:
  void Run() override {
    std::vector<KeywordDocument> docs(ids_.size());
    for (size_t i = 0; i < ids_.size(); ++i) docs[i] = KeywordDocument{ids_[i], titles_[i], texts_[i]};
    core_->add(docs.data(), docs.size());
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<KeywordIndex> core_;
  std::vector<uint64_t> ids_;
  std::vector<std::string> titles_, texts_;
};

class SearchWorker : public PromiseWorker {
 public:
  SearchWorker(Napi::Env env, Napi::Value self, std::shared_ptr<KeywordIndex> core, std::string query, size_t k)
      : PromiseWorker(env, "crossgate.KeywordIndex.search", self), core_(std::move(core)), query_(std::move(query)), k_(k) {}

 protected:
  void Run() override { hits_ = core_->search(query_, k_); }
  Napi::Value Result(Napi::Env env) override { return hits_object(env, hits_); }

 private:
  std::shared_ptr<KeywordIndex> core_;
  std::string query_;
  size_t k_;
  std::vector<SearchHit> hits_;
};

class SaveWorker : public PromiseWorker {
 public:
  SaveWorker(Napi::Env env, Napi::Value self, std::shared_ptr<KeywordIndex> core, std::string path)
      : PromiseWorker(env, "crossgate.KeywordIndex.save", self), core_(std::move(core)), path_(std::move(path)) {}

 protected:
  void Run() override { core_->save(path_); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<KeywordIndex> core_;
  std::string path_;
};

class NativeKeywordIndex : public Napi::ObjectWrap<NativeKeywordIndex> {
 public:
  static Napi::Function Define(Napi::Env env) {
    auto* ctor = new Napi::FunctionReference();
    Napi::Function cls = DefineClass(
        env, "NativeKeywordIndex",
        {
            InstanceAccessor<&NativeKeywordIndex::Count>("count"),
            InstanceMethod<&NativeKeywordIndex::Stats>("stats"),
            InstanceMethod<&NativeKeywordIndex::Options>("options"),
            InstanceMethod<&NativeKeywordIndex::Add>("add"),
            InstanceMethod<&NativeKeywordIndex::Remove>("remove"),
            InstanceMethod<&NativeKeywordIndex::Has>("has"),
            InstanceMethod<&NativeKeywordIndex::Analyze>("analyze"),
            InstanceMethod<&NativeKeywordIndex::SearchSync>("searchSync"),
            InstanceMethod<&NativeKeywordIndex::Search>("search"),
            InstanceMethod<&NativeKeywordIndex::Save>("save"),
            StaticMethod("load", &NativeKeywordIndex::Load, napi_default, ctor),
        });
    *ctor = Napi::Persistent(cls);
    env.AddCleanupHook([ctor]() { delete ctor; });
    return cls;
  }

  // new NativeKeywordIndex(options?)
  explicit NativeKeywordIndex(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeKeywordIndex>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      analysis::AnalyzerOptions ao;
      bm25::Params p;
      parse_options(env, info[0], &ao, &p);
      const std::string bad = bm25::check_params(p);
      if (!bad.empty()) throw Napi::RangeError::New(env, bad);
      core_ = std::make_shared<KeywordIndex>(std::move(ao), p);
    });
  }

 private:
  Napi::Value Count(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return Napi::Number::New(env, static_cast<double>(core_->count())); });
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const crossgate::KeywordStats s = core_->stats();
      Napi::Object o = Napi::Object::New(env);
      o.Set("documents", static_cast<double>(s.docs));
      o.Set("terms", static_cast<double>(s.terms));
      o.Set("postings", static_cast<double>(s.postings));
      o.Set("postingsBytes", static_cast<double>(s.postings_bytes));
      o.Set("memoryBytes", static_cast<double>(s.memory_bytes));
      o.Set("averageLength", s.avg_length);
      return o;
    });
  }

  Napi::Value Options(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto& ao = core_->analyzer().options();
      const auto& p = core_->params();
      Napi::Object o = Napi::Object::New(env);
      o.Set("language", ao.language);
      o.Set("stem", ao.stem);
      o.Set("foldAccents", ao.fold_accents);
      o.Set("possessive", ao.possessive);
      if (ao.stop == analysis::StopWords::Custom) {
        Napi::Array a = Napi::Array::New(env, ao.stop_words.size());
        for (uint32_t i = 0; i < ao.stop_words.size(); ++i) a.Set(i, ao.stop_words[i]);
        o.Set("stopWords", a);
      } else {
        o.Set("stopWords", ao.stop == analysis::StopWords::None ? "none" : "default");
      }
      o.Set("k1", p.k1);
      o.Set("b", p.b);
      o.Set("titleWeight", p.title_weight);
      o.Set("luceneNorms", p.lucene_norms);
      return o;
    });
  }

  // add(ids: Float64Array, titles: string[], texts: string[]) -> Promise<void>; all-or-nothing.
  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::vector<uint64_t> ids = to_ids(env, info[0], "ids");
      std::vector<std::string> titles = to_strings(env, info[1], "titles", ids.size());
      std::vector<std::string> texts = to_strings(env, info[2], "texts", ids.size());
      return queue(std::make_unique<AddWorker>(env, info.This(), core_, std::move(ids), std::move(titles), std::move(texts)));
    });
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::vector<uint64_t> ids = to_ids(env, info[0], "ids");
      return Napi::Number::New(env, static_cast<double>(core_->remove(ids.data(), ids.size())));
    });
  }

  Napi::Value Has(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!info[0].IsNumber()) throw Napi::TypeError::New(env, std::string("id must be a number; got ") + js_type(info[0]));
      return Napi::Boolean::New(env, core_->has(to_id(env, info[0].As<Napi::Number>().DoubleValue(), "id")));
    });
  }

  Napi::Value Analyze(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const std::vector<std::string> terms = core_->analyzer().terms(to_string_arg(env, info[0], "text"));
      Napi::Array a = Napi::Array::New(env, terms.size());
      for (uint32_t i = 0; i < terms.size(); ++i) a.Set(i, terms[i]);
      return a;
    });
  }

  Napi::Value SearchSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const std::string q = to_string_arg(env, info[0], "query");
      return hits_object(env, core_->search(q, to_k(env, info[1])));
    });
  }

  Napi::Value Search(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      std::string q = to_string_arg(env, info[0], "query");
      const size_t k = to_k(env, info[1]);
      return queue(std::make_unique<SearchWorker>(env, info.This(), core_, std::move(q), k));
    });
  }

  Napi::Value Save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      return queue(std::make_unique<SaveWorker>(env, info.This(), core_, to_path(env, info[0], "keyword index")));
    });
  }

  class LoadWorker : public PromiseWorker {
   public:
    LoadWorker(Napi::Env env, Napi::FunctionReference* ctor, std::string path)
        : PromiseWorker(env, "crossgate.KeywordIndex.load", env.Undefined()), ctor_(ctor), path_(std::move(path)) {}

   protected:
    void Run() override { loaded_ = KeywordIndex::load(path_); }
    Napi::Value Result(Napi::Env env) override {
      Napi::Object obj = ctor_->New({});
      NativeKeywordIndex::Unwrap(obj)->core_ = std::shared_ptr<KeywordIndex>(std::move(loaded_));
      return obj;
    }

   private:
    Napi::FunctionReference* ctor_;
    std::string path_;
    std::unique_ptr<KeywordIndex> loaded_;
  };

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
      return queue(std::make_unique<LoadWorker>(env, ctor, to_path(env, info[0], "keyword index")));
    });
  }

  // Shared with in-flight workers, so work finishing after the JS object is collected is safe.
  std::shared_ptr<KeywordIndex> core_;
};

}  // namespace

Napi::Object InitKeywordIndex(Napi::Env env, Napi::Object exports) {
  try {
    exports.Set("NativeKeywordIndex", NativeKeywordIndex::Define(env));
  } catch (const std::exception& e) {
    Napi::Error::New(env, std::string("crossgate: NativeKeywordIndex failed to register: ") + e.what()).ThrowAsJavaScriptException();
  } catch (...) {
    Napi::Error::New(env, "crossgate: NativeKeywordIndex failed to register").ThrowAsJavaScriptException();
  }
  return exports;
}
