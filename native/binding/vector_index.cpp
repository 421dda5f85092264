// vector_index.cpp: N-API wrapper for the core flat inner-product index (placeholder until it lands).
#include <napi.h>
Napi::Object InitVectorIndex(Napi::Env, Napi::Object exports) { return exports; }
