// What every fusion head shares: the request a factory gets from the registry, the patchify + projection of each
// pathway (the same in every head, so that a comparison between heads isolates the fusion itself), and the widths
// of the classifier and of the attention block's MLP.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "blocks.h"
#include "fas/fusion/fusion.h"

namespace fas::fusion {

// What a head's factory is given: the head's registered name and pathways, the config, the encoders' widths.
struct HeadRequest {
  std::string name;
  HeadStreams streams;
  FusionConfig config;
  int64_t acoustic_dim = 0;
  int64_t semantic_dim = 0;
  int64_t num_classes = 0;
};
using HeadFactory = std::shared_ptr<FusionHeadImpl>(const HeadRequest& request);

int64_t ClassifierHidden(const FusionConfig& c, int64_t in);
int64_t MlpHidden(const FusionConfig& c);

// A pathway patchified with its window s, then projected to d.
struct Stream {
  torch::Tensor tokens;  // [B, P, d]
  torch::Tensor mask;    // [B, P] bool
};

// Holds the name and pathways of the request, and the projection of each pathway the head reads.
class HeadBase : public FusionHeadImpl {
 public:
  explicit HeadBase(const HeadRequest& request);
  const std::string& name() const override { return name_; }
  bool uses_acoustic() const override { return acoustic_; }
  bool uses_semantic() const override { return semantic_; }
  bool reads_patches() const override { return true; }

 protected:
  Stream Acoustic(const FusionInput& in);
  Stream Semantic(const FusionInput& in);
  // The pooling window still to apply to a stream (1 when the input is already its patch means).
  int64_t AcousticPatch(const FusionInput& in) const { return in.acoustic_patched ? 1 : config_.patch_aco; }
  int64_t SemanticPatch(const FusionInput& in) const { return in.semantic_patched ? 1 : config_.patch_sem; }
  // [B, P] int64: `id` where the mask is true, -1 elsewhere (FusionOutput::token_stream).
  static torch::Tensor StreamIds(const torch::Tensor& mask, int64_t id);
  // attention [B, Nq, N]: mass on acoustic tokens, averaged over queries.
  static torch::Tensor AcousticShare(const torch::Tensor& attention, const torch::Tensor& token_stream);

  std::string name_;
  FusionConfig config_;
  bool acoustic_, semantic_;
  torch::nn::Linear acoustic_proj_{nullptr}, semantic_proj_{nullptr};
};

}  // namespace fas::fusion
