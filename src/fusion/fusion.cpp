// What fusion.h declares besides the heads and token selection: the config's checks and the parameter count.
#include "fas/fusion/fusion.h"

#include "fas/core/error.h"

namespace fas {

namespace {

void Require(bool ok, const std::string& key, const std::string& what) {
  if (!ok) throw ConfigError("model.fusion." + key + ": " + what);
}

}  // namespace

void FusionConfig::Validate() const {
  Require(d_model > 0, "d_model", "must be positive, got " + std::to_string(d_model));
  Require(num_heads > 0 && d_model % num_heads == 0, "num_heads",
          "must divide d_model (" + std::to_string(d_model) + "), got " + std::to_string(num_heads));
  Require(patch_aco >= 1, "patch_aco", "must be >= 1, got " + std::to_string(patch_aco));
  Require(patch_sem >= 1, "patch_sem", "must be >= 1, got " + std::to_string(patch_sem));
  Require(k_aco >= 1, "k_aco", "must be >= 1, got " + std::to_string(k_aco));
  Require(k_sem >= 1, "k_sem", "must be >= 1, got " + std::to_string(k_sem));
  Require(num_queries >= 1, "num_queries", "must be >= 1, got " + std::to_string(num_queries));
  Require(mlp_ratio > 0, "mlp_ratio", "must be positive");
  Require(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1), got " + std::to_string(dropout));
  Require(pooling == "flatten" || pooling == "mean", "pooling", "must be flatten or mean, got '" + pooling + "'");
  Require(single_stream_pooling == "attentive" || single_stream_pooling == "mean", "single_stream_pooling",
          "must be attentive or mean, got '" + single_stream_pooling + "'");
  Require(energy == "projected" || energy == "raw", "energy", "must be projected or raw, got '" + energy + "'");
  Require(classifier_hidden >= 0, "classifier_hidden", "must be >= 0 (0 = half the input width)");
}

int64_t CountTrainableParameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

}  // namespace fas
