// tokenizer.cpp: N-API wrapper (NativeTokenizer) around the core WordPiece tokenizer.
// Checks arguments, copies inputs into owned buffers, and encodes large batches in an AsyncWorker.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "guarded.h"
#include "tokenizer.h"

namespace {

using crossgate::EncodeOptions;
using crossgate::RaggedBatch;
using crossgate::WordPieceTokenizer;

// Runs body so that no C++ exception leaves it: NAPI_CPP_EXCEPTIONS turns only Napi::Error into a JS
// exception, and anything else escaping a callback calls std::terminate and takes the process down.
// Copying texts in can fail to allocate (bad_alloc, length_error); that becomes a RangeError with a fix.
constexpr const char* kFewerTexts = "pass fewer or shorter texts per call";

template <class F>
auto guarded(Napi::Env env, const char* where, F&& body, const char* fix = "free memory and retry") -> decltype(body()) {
  return crossgate_binding::guarded_call(env, where, std::forward<F>(body), [&](const std::exception& e) -> Napi::Error {
    if (dynamic_cast<const std::bad_alloc*>(&e)) {
      return Napi::RangeError::New(env, std::string("crossgate: ") + where + " ran out of memory; " + fix);
    }
    if (dynamic_cast<const std::length_error*>(&e)) {
      return Napi::RangeError::New(env, std::string("crossgate: ") + where + " inputs are too large (" + e.what() + "); " + fix);
    }
    return Napi::Error::New(env, e.what());
  });
}

// Texts copied out of JS into one arena, so a worker thread can read them after the call returns.
struct Inputs {
  std::string arena;
  std::vector<std::size_t> bounds;  // 2n (+2n for pairs) offsets into arena
  std::size_t count = 0;
  bool has_pairs = false;
  std::vector<std::string_view> first, second;

  void finish() {
    first.resize(count);
    for (std::size_t i = 0; i < count; ++i) first[i] = std::string_view(arena).substr(bounds[2 * i], bounds[2 * i + 1] - bounds[2 * i]);
    if (has_pairs) {
      second.resize(count);
      std::size_t base = 2 * count;
      for (std::size_t i = 0; i < count; ++i)
        second[i] = std::string_view(arena).substr(bounds[base + 2 * i], bounds[base + 2 * i + 1] - bounds[base + 2 * i]);
    }
  }
};

void append_text(Napi::Env env, const Napi::Value& v, const char* arg, std::size_t i, Inputs& in) {
  std::size_t start = in.arena.size();
  if (v.IsString()) {
    std::size_t len = 0;
    napi_status st = napi_get_value_string_utf8(env, v, nullptr, 0, &len);
    if (st != napi_ok) throw Napi::Error::New(env, std::string(arg) + "[" + std::to_string(i) + "] could not be read as a string");
    in.arena.resize(start + len + 1);
    st = napi_get_value_string_utf8(env, v, &in.arena[start], len + 1, &len);
    if (st != napi_ok) throw Napi::Error::New(env, std::string(arg) + "[" + std::to_string(i) + "] could not be read as a string");
    in.arena.resize(start + len);
  } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto u8 = v.As<Napi::Uint8Array>();
    in.arena.append(reinterpret_cast<const char*>(u8.Data()), u8.ByteLength());
  } else {
    throw Napi::TypeError::New(env, std::string(arg) + "[" + std::to_string(i) + "] must be a string or a Buffer");
  }
  in.bounds.push_back(start);
  in.bounds.push_back(in.arena.size());
}

// Arguments: (texts, pairs | null, maxLength, strategy, side[, offsets]).
void read_args(const Napi::CallbackInfo& info, Inputs& in, EncodeOptions& opts) {
  Napi::Env env = info.Env();
  if (info.Length() < 5) throw Napi::TypeError::New(env, "encode expects (texts, pairs, maxLength, truncation, side[, offsets])");
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "'texts' must be an array of strings or Buffers");
  auto texts = info[0].As<Napi::Array>();
  in.count = texts.Length();
  in.has_pairs = !(info[1].IsNull() || info[1].IsUndefined());
  Napi::Array pairs;
  if (in.has_pairs) {
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "'pairs' must be an array of strings or Buffers, or null");
    pairs = info[1].As<Napi::Array>();
    if (pairs.Length() != in.count)
      throw Napi::RangeError::New(env, "'pairs' has " + std::to_string(pairs.Length()) + " items but 'texts' has " +
                                           std::to_string(in.count) + "; pass one pair per text");
  }
  in.bounds.reserve(in.count * (in.has_pairs ? 4 : 2));
  for (uint32_t i = 0; i < in.count; ++i) append_text(env, texts.Get(i), "texts", i, in);
  if (in.has_pairs)
    for (uint32_t i = 0; i < in.count; ++i) append_text(env, pairs.Get(i), "pairs", i, in);

  if (!info[2].IsNumber()) throw Napi::TypeError::New(env, "'maxLength' must be a number");
  double ml = info[2].As<Napi::Number>().DoubleValue();
  if (std::isnan(ml) || ml < 1 || (std::isfinite(ml) && std::floor(ml) != ml))
    throw Napi::RangeError::New(env, "'maxLength' must be a positive integer or Infinity (got " + std::to_string(ml) + ")");
  opts.max_length = std::isfinite(ml) && ml < 9.0e15 ? static_cast<std::size_t>(ml) : std::numeric_limits<std::size_t>::max();

  std::string strategy = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string("?");
  if (strategy == "longest_first") opts.strategy = crossgate::TruncationStrategy::LongestFirst;
  else if (strategy == "only_second") opts.strategy = crossgate::TruncationStrategy::OnlySecond;
  else throw Napi::TypeError::New(env, "'truncation' must be 'longest_first' or 'only_second'");
  std::string side = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : std::string("?");
  if (side == "right") opts.side = crossgate::TruncationSide::Right;
  else if (side == "left") opts.side = crossgate::TruncationSide::Left;
  else throw Napi::TypeError::New(env, "'side' must be 'right' or 'left'");
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    if (!info[5].IsBoolean()) throw Napi::TypeError::New(env, "'offsets' must be true or false");
    opts.offsets = info[5].As<Napi::Boolean>().Value();
  }
  in.finish();
}

template <class Arr, class T>
Arr copy_out(Napi::Env env, const std::vector<T>& v) {
  Arr a = Arr::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

Napi::Object to_js(Napi::Env env, const RaggedBatch& b, std::size_t count, bool offsets) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", Napi::Number::New(env, static_cast<double>(count)));
  o.Set("ids", copy_out<Napi::Int32Array>(env, b.ids));
  o.Set("typeIds", copy_out<Napi::Uint8Array>(env, b.type_ids));
  o.Set("offsets", copy_out<Napi::Int32Array>(env, b.offsets));
  o.Set("truncated", copy_out<Napi::Uint8Array>(env, b.truncated));
  if (offsets) {
    o.Set("starts", copy_out<Napi::Int32Array>(env, b.starts));
    o.Set("stops", copy_out<Napi::Int32Array>(env, b.stops));
  }
  return o;
}

class EncodeWorker : public Napi::AsyncWorker {
 public:
  EncodeWorker(Napi::Env env, std::shared_ptr<const WordPieceTokenizer> tok, std::unique_ptr<Inputs> in, EncodeOptions opts)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), tok_(std::move(tok)), in_(std::move(in)), opts_(opts) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      tok_->encode_batch(in_->first.data(), in_->has_pairs ? in_->second.data() : nullptr, in_->count, opts_, out_);
    } catch (const std::bad_alloc&) {
      SetError("crossgate: NativeTokenizer.encodeAsync ran out of memory encoding; pass fewer or shorter texts per call");
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("crossgate: unknown native error in NativeTokenizer.encodeAsync");
    }
  }
  // OnOK / OnError run inside node-addon-api's callback wrapper, which converts only Napi::Error.
  void OnOK() override {
    try {
      deferred_.Resolve(to_js(Env(), out_, in_->count, opts_.offsets));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(Env(), e.what()).Value());
    } catch (...) {
      deferred_.Reject(Napi::Error::New(Env(), "crossgate: unknown native error in NativeTokenizer.encodeAsync").Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<const WordPieceTokenizer> tok_;
  std::unique_ptr<Inputs> in_;
  EncodeOptions opts_;
  RaggedBatch out_;
};

class NativeTokenizer : public Napi::ObjectWrap<NativeTokenizer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeTokenizer",
                       {InstanceAccessor<&NativeTokenizer::MaxLength>("maxLength"),
                        InstanceAccessor<&NativeTokenizer::PadId>("padId"),
                        InstanceMethod<&NativeTokenizer::SpecialTokenCount>("specialTokenCount"),
                        InstanceMethod<&NativeTokenizer::EncodeSync>("encodeSync"),
                        InstanceMethod<&NativeTokenizer::EncodeAsync>("encodeAsync")});
  }

  explicit NativeTokenizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTokenizer>(info) {
    Napi::Env env = info.Env();
    guarded(env, "NativeTokenizer", [&] {
      if (info.Length() < 1 || !info[0].IsString())
        throw Napi::TypeError::New(env, "'json' must be the text of a tokenizer.json");
      std::string source = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "tokenizer.json";
      std::string text = info[0].As<Napi::String>().Utf8Value();
      tok_ = WordPieceTokenizer::from_json(text, source);
    });
  }

 private:
  Napi::Value MaxLength(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, "NativeTokenizer.maxLength", [&]() -> Napi::Value {
      return Napi::Number::New(env, static_cast<double>(tok_->max_length()));
    });
  }
  Napi::Value PadId(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, "NativeTokenizer.padId", [&]() -> Napi::Value { return Napi::Number::New(env, tok_->pad_id()); });
  }
  Napi::Value SpecialTokenCount(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, "NativeTokenizer.specialTokenCount", [&]() -> Napi::Value {
      bool pair = info.Length() > 0 && info[0].ToBoolean().Value();
      return Napi::Number::New(env, static_cast<double>(tok_->special_token_count(pair)));
    });
  }

  Napi::Value EncodeSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, "NativeTokenizer.encodeSync", [&]() -> Napi::Value {
      Inputs in;
      EncodeOptions opts;
      read_args(info, in, opts);
      RaggedBatch out;
      tok_->encode_batch(in.first.data(), in.has_pairs ? in.second.data() : nullptr, in.count, opts, out);
      return to_js(env, out, in.count, opts.offsets);
    }, kFewerTexts);
  }

  Napi::Value EncodeAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, "NativeTokenizer.encodeAsync", [&]() -> Napi::Value {
      auto in = std::make_unique<Inputs>();
      EncodeOptions opts;
      read_args(info, *in, opts);
      auto worker = std::make_unique<EncodeWorker>(env, tok_, std::move(in), opts);
      Napi::Promise p = worker->Promise();
      worker->Queue();  // from here the worker deletes itself when it completes
      worker.release();
      return p;
    }, kFewerTexts);
  }

  std::shared_ptr<const WordPieceTokenizer> tok_;
};

}  // namespace

Napi::Object InitTokenizer(Napi::Env env, Napi::Object exports) {
  try {
    exports.Set("NativeTokenizer", NativeTokenizer::Define(env));
  } catch (const std::exception& e) {  // Napi::Error too: it derives from std::exception
    Napi::Error::New(env, std::string("crossgate: NativeTokenizer failed to register: ") + e.what()).ThrowAsJavaScriptException();
  } catch (...) {
    Napi::Error::New(env, "crossgate: NativeTokenizer failed to register").ThrowAsJavaScriptException();
  }
  return exports;
}
