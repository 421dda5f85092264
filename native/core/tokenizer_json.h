// tokenizer_json.h: a small, strict JSON reader (DOM) for tokenizer.json; no dependencies, bounded depth.
// Every error is a JsonError carrying the byte offset, so a bad file is reported, never crashed on.
#pragma once
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crossgate {
namespace json {

class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Value {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;  // in file order; last duplicate wins on lookup

  bool is_null() const { return type == Type::Null; }
  bool is_object() const { return type == Type::Object; }
  bool is_array() const { return type == Type::Array; }
  bool is_string() const { return type == Type::String; }
  bool is_bool() const { return type == Type::Bool; }
  bool is_number() const { return type == Type::Number; }
  // Member lookup; nullptr when absent or when this is not an object.
  const Value* get(std::string_view key) const;
};

const char* type_name(Value::Type t);

// Parses a complete JSON document; trailing non-space text is an error.
Value parse(std::string_view text);

}  // namespace json
}  // namespace crossgate
