#include "fas/encoders/encoder.h"

#include "fas/core/error.h"

namespace fas {

LayerWeightedSumImpl::LayerWeightedSumImpl(int64_t num_layers) {
  if (num_layers < 1) throw ConfigError("layer-weighted sum needs at least one layer");
  layer_logits = register_parameter("layer_logits", torch::zeros({num_layers}));
}

torch::Tensor LayerWeightedSumImpl::weights() const { return torch::softmax(layer_logits, 0); }

torch::Tensor LayerWeightedSumImpl::forward(const std::vector<torch::Tensor>& states) {
  if (static_cast<int64_t>(states.size()) != layer_logits.size(0)) {
    throw ModelError("layer-weighted sum over " + std::to_string(layer_logits.size(0)) + " layers was given " +
                     std::to_string(states.size()) + " hidden states");
  }
  return Stacked(torch::stack(states, 1));
}

torch::Tensor LayerWeightedSumImpl::Stacked(const torch::Tensor& stacked) {
  if (stacked.dim() < 2 || stacked.size(1) != layer_logits.size(0)) {
    throw ModelError("layer-weighted sum over " + std::to_string(layer_logits.size(0)) +
                     " layers expects [B, S, ...] with S = " + std::to_string(layer_logits.size(0)));
  }
  std::vector<int64_t> shape(stacked.dim(), 1);
  shape[1] = layer_logits.size(0);
  auto w = weights().to(stacked.dtype()).view(shape);
  return (stacked * w).sum(1);
}

std::vector<torch::Tensor> SelectLayers(const std::vector<torch::Tensor>& hidden_states,
                                        const std::vector<int>& layers) {
  const int n = static_cast<int>(hidden_states.size());
  std::vector<torch::Tensor> out;
  for (int l : layers) {
    const int i = l < 0 ? n + l : l;
    if (i < 0 || i >= n) {
      throw ConfigError("layer " + std::to_string(l) + " is out of range: the encoder has " + std::to_string(n) +
                        " hidden states (0 .. " + std::to_string(n - 1) + ", or -1 for the last)");
    }
    out.push_back(hidden_states[i]);
  }
  return out;
}

void SetRequiresGrad(torch::nn::Module& module, bool requires_grad) {
  for (auto& p : module.parameters(true)) p.set_requires_grad(requires_grad);
}

}  // namespace fas
