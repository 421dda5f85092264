// tokenizer.cpp: N-API wrapper for the core WordPiece tokenizer (placeholder until it lands).
#include <napi.h>
Napi::Object InitTokenizer(Napi::Env, Napi::Object exports) { return exports; }
