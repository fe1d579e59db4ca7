#include "fas/config/binder.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace fas::config_detail {
namespace {

[[noreturn]] void TypeError(const ConfigNode& n, const std::string& path, const char* expected) {
  const std::string shown = n.kind == ConfigNode::Kind::kScalar ? "'" + n.scalar + "'"
                            : n.kind == ConfigNode::Kind::kSeq  ? "a list"
                                                                : "a mapping";
  throw ConfigError("config key '" + path + "' (" + n.Where() + ") has value " + shown + ", expected " + expected);
}

const std::string& RequireScalar(const ConfigNode& n, const std::string& path, const char* expected) {
  if (n.kind != ConfigNode::Kind::kScalar) TypeError(n, path, expected);
  return n.scalar;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

template <class T>
void ParseInteger(const ConfigNode& n, const std::string& path, T& out, const char* expected) {
  const std::string& s = RequireScalar(n, path, expected);
  errno = 0;
  char* end = nullptr;
  if constexpr (std::is_signed_v<T>) {
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || v < std::numeric_limits<T>::min() ||
        v > std::numeric_limits<T>::max())
      TypeError(n, path, expected);
    out = static_cast<T>(v);
  } else {
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || *end != '\0' || errno == ERANGE || v > std::numeric_limits<T>::max())
      TypeError(n, path, expected);
    out = static_cast<T>(v);
  }
}

}  // namespace

std::string Suggest(const std::string& key, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& k : known) {
    const size_t d = EditDistance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  // Only suggest what is plausibly a typo: within a third of the key's length.
  return best_d <= std::max<size_t>(2, key.size() / 3) ? best : "";
}

void ParseScalar(const ConfigNode& n, const std::string& path, std::string& out) {
  out = RequireScalar(n, path, "a string");
}

void ParseScalar(const ConfigNode& n, const std::string& path, bool& out) {
  std::string s = RequireScalar(n, path, "true or false");
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  if (s == "true" || s == "yes" || s == "on") {
    out = true;
  } else if (s == "false" || s == "no" || s == "off") {
    out = false;
  } else {
    TypeError(n, path, "true or false");
  }
}

void ParseScalar(const ConfigNode& n, const std::string& path, int& out) { ParseInteger(n, path, out, "an integer"); }
void ParseScalar(const ConfigNode& n, const std::string& path, int64_t& out) {
  ParseInteger(n, path, out, "an integer");
}
void ParseScalar(const ConfigNode& n, const std::string& path, uint64_t& out) {
  ParseInteger(n, path, out, "a non-negative integer");
}

void ParseScalar(const ConfigNode& n, const std::string& path, double& out) {
  const std::string& s = RequireScalar(n, path, "a number");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) TypeError(n, path, "a finite number");
  out = v;
}

void ParseScalar(const ConfigNode& n, const std::string& path, float& out) {
  double d = 0;
  ParseScalar(n, path, d);
  out = static_cast<float>(d);
}

std::string FormatScalar(const std::string& v) {
  YAML::Emitter e;
  e << v;
  return e.c_str();
}
std::string FormatScalar(bool v) { return v ? "true" : "false"; }
std::string FormatScalar(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  std::string s = buf;
  // Keep a float looking like a float so that the printed config reads back with the same meaning.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}
std::string FormatScalar(float v) { return FormatScalar(static_cast<double>(v)); }

}  // namespace fas::config_detail
