#include "fas/engine/optimizer_state.h"

#include <c10/util/irange.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "fas/core/error.h"

namespace fas {
namespace {

// A TensorImpl name as either LibTorch wrote it: hexadecimal with 0x (1.x) or decimal (2.x).
uint64_t ParseKey(const std::string& key, const std::string& path) {
  errno = 0;
  char* end = nullptr;
  const uint64_t value = std::strtoull(key.c_str(), &end, 0);  // base 0: "0x..." is hexadecimal
  if (key.empty() || errno != 0 || end != key.c_str() + key.size()) {
    throw Error("optimiser state '" + path + "' names a parameter '" + key + "', which is no tensor address");
  }
  return value;
}

int64_t ReadCount(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor t;
  archive.read(key, t);
  return t.item<int64_t>();
}

std::string Shape(const torch::Tensor& t) { return c10::str(t.sizes()); }

void Check(const torch::Tensor& state, const torch::Tensor& param, const std::string& what, size_t group,
           size_t index, const std::string& path) {
  if (!state.defined()) throw Error("optimiser state '" + path + "' has no " + what + " for parameter " +
                                    std::to_string(index) + " of group " + std::to_string(group));
  if (state.sizes() != param.sizes() || state.scalar_type() != param.scalar_type()) {
    throw Error("optimiser state '" + path + "': " + what + " of parameter " + std::to_string(index) + " of group " +
                std::to_string(group) + " is " + std::string(c10::toString(state.scalar_type())) + Shape(state) +
                ", the parameter is " + c10::toString(param.scalar_type()) + Shape(param) +
                " (was the model changed?)");
  }
}

torch::Tensor OnParameter(const torch::Tensor& state, const torch::Tensor& param) {
  torch::NoGradGuard no_grad;
  return torch::empty_like(param, torch::MemoryFormat::Preserve).copy_(state);
}

}  // namespace

void SaveOptimizerState(const torch::optim::AdamW& optimizer, const std::string& path) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  archive.save_to(path);
}

void LoadOptimizerState(torch::optim::AdamW& optimizer, const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, torch::Device(torch::kCPU));  // a GPU run's file reads on any machine
  } catch (const c10::Error& e) {
    throw IoError("cannot read the optimiser state '" + path + "': " + e.what_without_backtrace());
  }
  try {
    torch::serialize::InputArchive states, groups;
    archive.read("state", states);
    archive.read("param_groups", groups);
    std::map<uint64_t, std::unique_ptr<torch::optim::AdamWParamState>> saved;
    for (const auto& key : states.keys()) {
      torch::serialize::InputArchive one;
      states.read(key, one);
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->serialize(one);
      saved[ParseKey(key, path)] = std::move(s);
    }
    auto& current = optimizer.param_groups();
    const int64_t n_groups = ReadCount(groups, "param_groups/size");
    if (n_groups != static_cast<int64_t>(current.size())) {
      throw Error("optimiser state '" + path + "' has " + std::to_string(n_groups) + " parameter groups, this model " +
                  std::to_string(current.size()) + " (was the model or its freezing changed?)");
    }
    // Everything is checked before anything is restored: a refused file leaves the optimiser as it was.
    std::vector<std::pair<void*, std::unique_ptr<torch::optim::AdamWParamState>>> restored;
    std::vector<torch::optim::AdamWOptions> options;
    for (const auto g : c10::irange(current.size())) {
      torch::serialize::InputArchive group;
      groups.read("param_groups/" + std::to_string(g), group);
      const auto& params = current[g].params();
      const int64_t n = ReadCount(group, "params/size");
      if (n != static_cast<int64_t>(params.size())) {
        throw Error("optimiser state '" + path + "': group " + std::to_string(g) + " has " + std::to_string(n) +
                    " parameters, this model's " + std::to_string(params.size()) + " (was the model changed?)");
      }
      for (const auto i : c10::irange(params.size())) {
        c10::IValue name;
        group.read("params/" + std::to_string(i), name);
        if (!name.isString()) throw Error("optimiser state '" + path + "': parameter names are not text");
        auto it = saved.find(ParseKey(name.toStringRef(), path));
        if (it == saved.end() || !it->second) continue;  // no step taken for it yet
        auto& s = *it->second;
        Check(s.exp_avg(), params[i], "exp_avg", g, i, path);
        Check(s.exp_avg_sq(), params[i], "exp_avg_sq", g, i, path);
        // The archive holds CPU tensors; the moments go where their parameter is, in its layout.
        s.exp_avg(OnParameter(s.exp_avg(), params[i]));
        s.exp_avg_sq(OnParameter(s.exp_avg_sq(), params[i]));
        restored.emplace_back(params[i].unsafeGetTensorImpl(), std::move(it->second));
      }
      torch::serialize::InputArchive saved_options;
      group.read("options", saved_options);
      options.emplace_back(0.0);
      options.back().serialize(saved_options);
    }
    auto& state = optimizer.state();
    state.clear();
    for (auto& [key, s] : restored) state[key] = std::move(s);
    for (const auto g : c10::irange(current.size())) {
      static_cast<torch::optim::AdamWOptions&>(current[g].options()) = options[g];
    }
  } catch (const c10::Error& e) {
    throw IoError("optimiser state '" + path + "' is malformed: " + e.what_without_backtrace());
  }
}

}  // namespace fas
