#include "fas/encoders/kernels/onednn_linear.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>

#include "fas/encoders/kernels.h"

namespace fas::kernels {

namespace {

// The operators' schemas, as LibTorch registers them:
//   mkldnn::_linear_pointwise(Tensor X, Tensor W, Tensor? B, str attr, Scalar?[] scalars, str? algorithm)
//   mkldnn::_reorder_linear_weight(Tensor self, int? batch_size=None)
using LinearPointwise = at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                                   c10::string_view, c10::List<std::optional<at::Scalar>>,
                                   std::optional<c10::string_view>);
using ReorderWeight = at::Tensor(const at::Tensor&, std::optional<int64_t>);

const c10::TypedOperatorHandle<LinearPointwise>& LinearOp() {
  static const auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "").typed<LinearPointwise>();
  return op;
}

const c10::TypedOperatorHandle<ReorderWeight>& ReorderOp() {
  static const auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_reorder_linear_weight", "").typed<ReorderWeight>();
  return op;
}

bool HasOperators() {
  static const bool has = at::hasMKLDNN() &&
                          c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""}).has_value() &&
                          c10::Dispatcher::singleton().findSchema({"mkldnn::_reorder_linear_weight", ""}).has_value();
  return has;
}

}  // namespace

PostOp FusedActivation(const std::string& activation) {
  return activation == "gelu" ? PostOp::kGelu : activation == "relu" ? PostOp::kRelu : PostOp::kNone;
}

bool OneDnnLinear::Applies(bool fast, const torch::Tensor& x) {
  return CpuInference(fast, x) && x.scalar_type() == torch::kFloat32 && HasOperators();
}

torch::Tensor OneDnnLinear::Pack(const torch::Tensor& weight) {
  return ReorderOp().call(weight.contiguous(), std::nullopt);
}

torch::Tensor OneDnnLinear::Run(const torch::Tensor& x, const torch::Tensor& packed, const torch::Tensor& bias,
                                PostOp post) {
  // "gelu" with algorithm "none" is the exact (erf) form, HuggingFace's "gelu".
  const c10::string_view attr = post == PostOp::kGelu ? "gelu" : post == PostOp::kRelu ? "relu" : "none";
  const std::optional<c10::string_view> algorithm =
      post == PostOp::kGelu ? std::optional<c10::string_view>("none") : std::nullopt;
  return LinearOp().call(x.contiguous(), packed, bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt, attr,
                         c10::List<std::optional<at::Scalar>>(), algorithm);
}

torch::Tensor OneDnnLinear::operator()(const torch::nn::Linear& layer, const torch::Tensor& x, PostOp post) {
  return (*this)(x, layer->weight, layer->bias, {layer->weight}, post);
}

torch::Tensor OneDnnLinear::Forward(bool fast, const torch::nn::Linear& layer, const torch::Tensor& x, PostOp post) {
  if (Applies(fast, x)) return (*this)(layer, x, post);
  const torch::Tensor y = torch::linear(x, layer->weight, layer->bias);
  return post == PostOp::kGelu ? torch::gelu(y) : post == PostOp::kRelu ? torch::relu(y) : y;
}

}  // namespace fas::kernels
