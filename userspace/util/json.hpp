// Reading fields of untrusted JSON (runtime state, journal records) without exceptions or lossy casts, and
// writing JSON that holds untrusted bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace sigdrain {

// The member `key` of an object; nullptr when `obj` is not an object or has no such member.
inline const nlohmann::json* json_member(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// An integer member that fits int64; nullopt for floats, strings, out-of-range numbers or a missing member.
inline std::optional<int64_t> json_integer(const nlohmann::json& obj, const char* key) {
  const nlohmann::json* v = json_member(obj, key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v->is_number_integer()) return v->get<int64_t>();
  return std::nullopt;
}

// A string member; nullopt when it is missing or not a string.
inline std::optional<std::string> json_string(const nlohmann::json& obj, const char* key) {
  const nlohmann::json* v = json_member(obj, key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

// A boolean member; nullopt when it is missing or not true or false.
inline std::optional<bool> json_bool(const nlohmann::json& obj, const char* key) {
  const nlohmann::json* v = json_member(obj, key);
  if (!v || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

// One line of JSON for output. comm, cmdline, labels and paths are bytes from outside, not UTF-8: invalid
// sequences become U+FFFD instead of the type_error 316 that nlohmann's default dump() throws.
inline std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sigdrain
