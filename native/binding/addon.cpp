// addon.cpp: the N-API module entry; each exported class registers itself from its own file.
// Nothing else lives here: argument checks and workers are in tokenizer.cpp / vector_index.cpp / keyword_index.cpp.
#include <napi.h>

Napi::Object InitTokenizer(Napi::Env env, Napi::Object exports);
Napi::Object InitVectorIndex(Napi::Env env, Napi::Object exports);
Napi::Object InitKeywordIndex(Napi::Env env, Napi::Object exports);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitTokenizer(env, exports);
  InitVectorIndex(env, exports);
  InitKeywordIndex(env, exports);
  return exports;
}

NODE_API_MODULE(crossgate_native, Init)
