// Typed configuration structs, sherpa-onnx style: each struct lists its fields once, in
//   template <class V> void Visit(V& v) { v("num_queries", num_queries, "learnable queries"); v("head", head); }
// and that one list drives reading from YAML (with unknown-key and wrong-type errors naming the file and line),
// printing (`ToString`, the resolved config of a run) and the dotted names of nested fields.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "fas/config/node.h"
#include "fas/core/error.h"

namespace fas {

namespace config_detail {
template <class T, class = void>
struct IsStruct : std::false_type {};
struct NullVisitor {
  template <class U>
  void operator()(const char*, U&, const char* = "") {}
};
template <class T>
struct IsStruct<T, std::void_t<decltype(std::declval<T&>().Visit(std::declval<NullVisitor&>()))>> : std::true_type {};
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
struct IsMap : std::false_type {};
template <class T>
struct IsMap<std::map<std::string, T>> : std::true_type {};

std::string Suggest(const std::string& key, const std::vector<std::string>& known);
void ParseScalar(const ConfigNode& n, const std::string& path, std::string& out);
void ParseScalar(const ConfigNode& n, const std::string& path, bool& out);
void ParseScalar(const ConfigNode& n, const std::string& path, int& out);
void ParseScalar(const ConfigNode& n, const std::string& path, int64_t& out);
void ParseScalar(const ConfigNode& n, const std::string& path, uint64_t& out);
void ParseScalar(const ConfigNode& n, const std::string& path, double& out);
void ParseScalar(const ConfigNode& n, const std::string& path, float& out);
std::string FormatScalar(const std::string& v);
std::string FormatScalar(bool v);
std::string FormatScalar(double v);
std::string FormatScalar(float v);
template <class T>
std::enable_if_t<std::is_integral_v<T>, std::string> FormatScalar(T v) {
  return std::to_string(v);
}
}  // namespace config_detail

// Reads a ConfigNode map into a struct; throws ConfigError naming the dotted key and where it was set.
class ConfigReader {
 public:
  ConfigReader(const ConfigNode& node, std::string path) : node_(node), path_(std::move(path)) {
    if (node_.kind != ConfigNode::Kind::kMap && node_.kind != ConfigNode::Kind::kNull) {
      throw ConfigError("'" + (path_.empty() ? std::string("<root>") : path_) + "' (" + node_.Where() +
                        ") must be a mapping of keys to values");
    }
  }

  template <class T>
  void operator()(const char* key, T& field, const char* /*help*/ = "") {
    known_.push_back(key);
    const ConfigNode* child = node_.Find(key);
    if (child == nullptr || child->kind == ConfigNode::Kind::kNull) return;  // keep the default
    Read(*child, Join(key), field);
  }

  // After Visit: every key in the YAML must have been a known field.
  void CheckUnknown() const {
    for (const auto& [k, v] : node_.map) {
      bool found = false;
      for (const auto& kn : known_) found = found || kn == k;
      if (!found) {
        std::string msg = "unknown config key '" + Join(k) + "' (" + v.Where() + ")";
        const std::string s = config_detail::Suggest(k, known_);
        if (!s.empty()) msg += "; did you mean '" + Join(s) + "'?";
        throw ConfigError(msg);
      }
    }
  }

  template <class T>
  static void Read(const ConfigNode& n, const std::string& path, T& field) {
    if constexpr (config_detail::IsStruct<T>::value) {
      ConfigReader r(n, path);
      field.Visit(r);
      r.CheckUnknown();
    } else if constexpr (config_detail::IsVector<T>::value) {
      if (n.kind != ConfigNode::Kind::kSeq) {
        throw ConfigError("config key '" + path + "' (" + n.Where() + ") must be a list");
      }
      field.clear();
      for (size_t i = 0; i < n.seq.size(); ++i) {
        typename T::value_type item{};
        Read(n.seq[i], path + "[" + std::to_string(i) + "]", item);
        field.push_back(std::move(item));
      }
    } else if constexpr (config_detail::IsMap<T>::value) {
      if (n.kind != ConfigNode::Kind::kMap) {
        throw ConfigError("config key '" + path + "' (" + n.Where() + ") must be a mapping");
      }
      for (const auto& [k, v] : n.map) {
        typename T::mapped_type item{};
        Read(v, path + "." + k, item);
        field[k] = std::move(item);
      }
    } else {
      config_detail::ParseScalar(n, path, field);
    }
  }

 private:
  std::string Join(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }
  const ConfigNode& node_;
  std::string path_;
  std::vector<std::string> known_;
};

// Writes a struct as YAML (the fully resolved config).
class ConfigWriter {
 public:
  explicit ConfigWriter(int indent = 0) : indent_(indent) {}

  template <class T>
  void operator()(const char* key, T& field, const char* /*help*/ = "") {
    Write(key, field);
  }
  std::string str() const { return out_.str(); }

 private:
  template <class T>
  void Write(const std::string& key, T& field) {
    const std::string pad(indent_, ' ');
    if constexpr (config_detail::IsStruct<T>::value) {
      out_ << pad << key << ":\n";
      ConfigWriter w(indent_ + 2);
      field.Visit(w);
      out_ << w.str();
    } else if constexpr (config_detail::IsVector<T>::value) {
      if (field.empty()) {
        out_ << pad << key << ": []\n";
        return;
      }
      out_ << pad << key << ":\n";
      for (auto& item : field) {
        if constexpr (config_detail::IsStruct<typename T::value_type>::value) {
          ConfigWriter w(indent_ + 4);
          item.Visit(w);
          std::string body = w.str();
          // The first line of a list item's mapping carries the dash.
          if (body.size() > static_cast<size_t>(indent_) + 4) {
            body.replace(indent_ + 2, 2, "- ");
          } else {
            body = pad + "  - {}\n";
          }
          out_ << body;
        } else {
          out_ << pad << "  - " << config_detail::FormatScalar(item) << "\n";
        }
      }
    } else if constexpr (config_detail::IsMap<T>::value) {
      if (field.empty()) {
        out_ << pad << key << ": {}\n";
        return;
      }
      out_ << pad << key << ":\n";
      ConfigWriter w(indent_ + 2);
      for (auto& [k, v] : field) w.Write(k, v);
      out_ << w.str();
    } else {
      out_ << pad << key << ": " << config_detail::FormatScalar(field) << "\n";
    }
  }

  int indent_;
  std::ostringstream out_;
};

// Reads a whole config struct from files and --set assignments: defaults, then files in order, then sets.
template <class T>
T BindConfig(const ConfigNode& root) {
  T cfg{};
  ConfigReader::Read(root, "", cfg);
  return cfg;
}

template <class T>
T LoadConfig(const std::vector<std::string>& files, const std::vector<std::string>& sets = {}) {
  return BindConfig<T>(LoadConfigTree(files, sets));
}

template <class T>
std::string ConfigToString(T& cfg) {
  ConfigWriter w;
  cfg.Visit(w);
  return w.str();
}

}  // namespace fas
