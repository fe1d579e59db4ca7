// Reading values from JSON that somebody else wrote (HuggingFace config.json, vocab.json, a checkpoint's
// trainer_state.json). nlohmann's get<int>() converts numbers with a static_cast: 1e300 or 3.5 into an int is
// undefined behaviour (UBSan found it while fuzzing config.json) and 2^40 into an int wraps silently. JsonTo accepts
// a number only when the target type holds it exactly, so a hostile file becomes an error naming the field.
#pragma once

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "fas/core/error.h"

namespace fas {

// Converts `v` into `out` when its JSON type fits T and T represents the value exactly; returns false (and leaves
// `out` unchanged) otherwise. Integers written as 12.0 are accepted; 12.5, NaN and out-of-range values are not.
template <class T>
bool JsonTo(const nlohmann::json& v, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return false;
    out = v.get<bool>();
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    using L = std::numeric_limits<T>;
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(L::max())) return false;
      out = static_cast<T>(u);
      return true;
    }
    if (v.is_number_integer()) {
      const auto i = v.get<int64_t>();
      if constexpr (std::is_unsigned_v<T>) {
        if (i < 0 || static_cast<uint64_t>(i) > static_cast<uint64_t>(L::max())) return false;
      } else {
        if (i < static_cast<int64_t>(L::min()) || i > static_cast<int64_t>(L::max())) return false;
      }
      out = static_cast<T>(i);
      return true;
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      // Bounds as powers of two, which double holds exactly: [-2^digits, 2^digits) for signed T, [0, 2^digits) else.
      const double limit = std::ldexp(1.0, L::digits);
      const double low = L::is_signed ? -limit : 0.0;
      if (!std::isfinite(d) || d != std::trunc(d) || d < low || d >= limit) return false;
      out = static_cast<T>(d);
      return true;
    }
    return false;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) return false;
    const double d = v.get<double>();
    if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(d);
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return false;
    out = v.get<std::string>();
    return true;
  } else {
    static_assert(std::is_same_v<T, std::vector<typename T::value_type>>, "JsonTo: unsupported type");
    if (!v.is_array()) return false;
    T values(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (!JsonTo(v[i], values[i])) return false;
    }
    out = std::move(values);
    return true;
  }
}

// JsonTo or an IoError naming `what` and the value found.
template <class T>
T JsonAs(const nlohmann::json& v, const std::string& what) {
  T out{};
  if (!JsonTo(v, out)) throw IoError(what + " has the wrong type or is out of range (" + v.dump() + ")");
  return out;
}

// Reads the optional field `key` of the object `j` into `field` (kept when the key is absent or null); a value of
// the wrong type or out of range is a ConfigError naming the file and the field.
template <class T>
void ReadJsonField(const nlohmann::json& j, const char* key, T& field, const std::string& file) {
  if (!j.is_object()) return;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!JsonTo(*it, field)) {
    throw ConfigError(file + ": field '" + key + "' has the wrong type or is out of range (" + it->dump() + ")");
  }
}

}  // namespace fas
