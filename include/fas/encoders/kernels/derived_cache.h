// A tensor the speed routes derive from parameters (a folded weight norm, a fused QKV matrix, a oneDNN-packed
// weight), recomputed only when one of its sources changed: an optimiser step or a load bumps a parameter's version,
// .to() changes its storage. The routes run under InferenceMode only, so training always sees the live parameters.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace fas::kernels {

class DerivedCache {
 public:
  template <class F>
  const torch::Tensor& Get(const std::vector<torch::Tensor>& sources, F compute) {
    std::vector<std::pair<const void*, int64_t>> key;
    for (const auto& s : sources) {
      // Parameters made under InferenceMode (a model built inside it) carry no version counter, so a load into
      // them could not be told from the tensor: what derives from them is recomputed at every call.
      if (s.is_inference()) {
        value_ = compute();
        key_.clear();
        return value_;
      }
      key.emplace_back(s.data_ptr(), static_cast<int64_t>(s._version()));
    }
    if (!value_.defined() || key != key_) {
      value_ = compute();
      key_ = std::move(key);
    }
    return value_;
  }

 private:
  torch::Tensor value_;
  std::vector<std::pair<const void*, int64_t>> key_;
};

}  // namespace fas::kernels
