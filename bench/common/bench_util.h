// Small helpers shared by the C++ benchmarks (header only; bench/<name>/CMakeLists.txt adds bench/common to the
// include path): `--key value` options, peak resident memory, and the one JSON line a benchmark prints per case,
// which bench/summarize.py reads for both sides.
#pragma once

#include <sys/resource.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "fas/core/error.h"

namespace fas::bench {

// `--key value` pairs; `flags` are options without a value. Unknown keys are an error that lists the usage.
class Options {
 public:
  Options(int argc, char** argv, std::map<std::string, std::string> defaults, const std::string& usage,
          const std::vector<std::string>& flags = {})
      : values_(std::move(defaults)) {
    for (int i = 1; i < argc; ++i) {
      const std::string key = argv[i];
      if (key.rfind("--", 0) != 0) throw ConfigError("unexpected argument '" + key + "'; usage: " + usage);
      const std::string name = key.substr(2);
      bool flag = false;
      for (const auto& f : flags) flag = flag || f == name;
      if (flag) {
        values_[name] = "1";
        continue;
      }
      if (values_.count(name) == 0 || i + 1 >= argc) throw ConfigError("bad option '" + key + "'; usage: " + usage);
      values_[name] = argv[++i];
    }
  }
  const std::string& str(const std::string& key) const { return values_.at(key); }
  int integer(const std::string& key) const { return std::stoi(values_.at(key)); }
  bool has(const std::string& key) const { return values_.count(key) != 0 && !values_.at(key).empty(); }

 private:
  std::map<std::string, std::string> values_;
};

// Peak resident set of this process so far, in MiB (Linux reports ru_maxrss in KiB).
inline double PeakRssMib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// {"bench": ..., "impl": "fas", "case": ..., "ms": [...], "peak_rss_mib": ..., <extra numeric fields>}
inline void PrintResult(const std::string& bench, const std::string& case_name, const std::vector<double>& ms,
                        double peak_rss_mib, const std::map<std::string, double>& extra = {}) {
  std::string list;
  for (double t : ms) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%s%.3f", list.empty() ? "" : ", ", t);
    list += buf;
  }
  std::string more;
  for (const auto& [k, v] : extra) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), ", \"%s\": %.6g", k.c_str(), v);
    more += buf;
  }
  std::printf("{\"bench\": \"%s\", \"impl\": \"fas\", \"case\": \"%s\", \"ms\": [%s], \"peak_rss_mib\": %.1f%s}\n",
              bench.c_str(), case_name.c_str(), list.c_str(), peak_rss_mib, more.c_str());
  std::fflush(stdout);
}

}  // namespace fas::bench
