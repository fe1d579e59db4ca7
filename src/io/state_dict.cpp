#include "fas/io/state_dict.h"

#include <spdlog/spdlog.h>

#include <functional>
#include <set>

#include "fas/core/error.h"

namespace fas {
namespace {

std::string ShapeOf(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

bool IsBoundary(const std::string& s, size_t pos) { return pos == 0 || pos >= s.size() || s[pos - 1] == '.'; }

std::string Join(const std::vector<std::string>& names, size_t max_items = 8) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max_items; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > max_items) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

bool MatchesAny(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns) {
    if (GlobMatch(p, name)) return true;
  }
  return false;
}

// The shared loading loop; `get(name, dtype)` returns the checkpoint tensor converted to `dtype`.
LoadReport Load(torch::nn::Module& module, const std::vector<std::pair<std::string, at::IntArrayRef>>& entries,
                const std::function<torch::Tensor(const std::string&, torch::ScalarType)>& get,
                const NameMap& map, const std::string& source) {
  std::map<std::string, torch::Tensor> targets;
  for (auto& [name, t] : ModuleTensors(module)) targets[name] = t;
  LoadReport report;
  std::set<std::string> filled;
  torch::NoGradGuard no_grad;
  for (const auto& [ckpt_name, shape] : entries) {
    const std::string name = MapCheckpointName(map, ckpt_name);
    auto it = targets.find(name);
    if (it == targets.end()) {
      if (MatchesAny(map.skip, ckpt_name)) {
        report.skipped.push_back(ckpt_name);
        continue;
      }
      throw ModelError(source + ": unexpected tensor '" + ckpt_name + "'" +
                       (name != ckpt_name ? " (mapped to '" + name + "')" : std::string()) + " with shape " +
                       ShapeOf(shape) + ": the model has no such parameter");
    }
    if (!filled.insert(name).second) {
      throw ModelError(source + ": tensor '" + ckpt_name + "' fills '" + name + "', which another tensor filled");
    }
    torch::Tensor& dst = it->second;
    if (dst.sizes() != shape) {
      throw ModelError(source + ": tensor '" + ckpt_name + "' has shape " + ShapeOf(shape) + ", expected " +
                       ShapeOf(dst.sizes()) + " for '" + name + "'");
    }
    dst.copy_(get(ckpt_name, dst.scalar_type()));
    report.loaded.push_back(name);
  }
  std::vector<std::string> missing;
  for (const auto& [name, t] : targets) {
    if (filled.count(name)) continue;
    if (MatchesAny(map.optional, name)) {
      report.missing_optional.push_back(name);
    } else {
      missing.push_back(name);
    }
  }
  if (!missing.empty()) {
    throw ModelError(source + ": missing tensor" + (missing.size() > 1 ? "s " : " ") + Join(missing) +
                     " (expected shape " + ShapeOf(targets[missing.front()].sizes()) + " for '" + missing.front() +
                     "')");
  }
  if (!report.skipped.empty()) {
    spdlog::info("{}: skipped {} tensor(s) the model does not use: {}", source, report.skipped.size(),
                 Join(report.skipped));
  }
  return report;
}

}  // namespace

bool GlobMatch(const std::string& pattern, const std::string& text) {
  // Iterative wildcard match with backtracking to the last star: linear in practice, no recursion.
  size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string MapCheckpointName(const NameMap& map, const std::string& checkpoint_name) {
  std::string name = checkpoint_name;
  for (const auto& prefix : map.strip_prefixes) {
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
      name = name.substr(prefix.size());
      break;
    }
  }
  for (const auto& alias : map.aliases) {
    if (alias.checkpoint.empty()) continue;
    for (size_t pos = name.find(alias.checkpoint); pos != std::string::npos;
         pos = name.find(alias.checkpoint, pos + 1)) {
      const size_t end = pos + alias.checkpoint.size();
      if (IsBoundary(name, pos) && (end == name.size() || name[end] == '.')) {
        name.replace(pos, alias.checkpoint.size(), alias.module);
        break;
      }
    }
  }
  return name;
}

std::vector<std::pair<std::string, torch::Tensor>> ModuleTensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

LoadReport LoadStateDict(torch::nn::Module& module, const SafeTensorsFile& file, const NameMap& map) {
  std::vector<std::pair<std::string, at::IntArrayRef>> entries;
  for (const auto& t : file.tensors()) entries.emplace_back(t.name, at::IntArrayRef(t.shape));
  return Load(
      module, entries, [&](const std::string& n, torch::ScalarType d) { return file.Get(n, d); }, map, file.path());
}

LoadReport LoadStateDict(torch::nn::Module& module, const std::string& safetensors_path, const NameMap& map) {
  SafeTensorsFile file(safetensors_path);
  return LoadStateDict(module, file, map);
}

LoadReport LoadStateDict(torch::nn::Module& module, const NamedTensors& tensors, const NameMap& map,
                         const std::string& source) {
  std::map<std::string, torch::Tensor> by_name;
  std::vector<std::pair<std::string, at::IntArrayRef>> entries;
  for (const auto& [n, t] : tensors) {
    if (!by_name.emplace(n, t).second) throw ModelError(source + ": tensor '" + n + "' given twice");
    entries.emplace_back(n, t.sizes());
  }
  return Load(
      module, entries,
      [&](const std::string& n, torch::ScalarType d) { return by_name.at(n).to(torch::kCPU, d); }, map, source);
}

void SaveStateDict(const torch::nn::Module& module, const std::string& path, const std::string& prefix,
                   const std::map<std::string, std::string>& metadata) {
  NamedTensors tensors;
  for (auto& [name, t] : ModuleTensors(module)) tensors.emplace_back(prefix + name, t);
  WriteSafeTensors(path, tensors, metadata);
}

}  // namespace fas
