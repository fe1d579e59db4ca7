// Fusion heads: FAS (patchify → project → Top-K by energy → learnable queries cross-attend → classifier) and the
// baselines / ablations of the paper, all behind one interface so that a config picks one by name with the same
// encoders in front of it.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace fas {

// Hyperparameters of every head; a head reads the fields it needs (config key `model.fusion`).
struct FusionConfig {
  int d_model = 512;      // projection width d
  int patch_aco = 5;      // average-pooling window s over acoustic frames (1 = no pooling)
  int patch_sem = 5;      // ... over semantic tokens
  int k_aco = 8;          // acoustic tokens kept by Top-K
  int k_sem = 16;         // semantic tokens kept by Top-K
  int num_queries = 2;    // learnable queries N_q
  int num_heads = 8;      // attention heads (d_model must divide by it)
  double mlp_ratio = 2.0; // hidden width of the block's MLP, in units of d_model
  double dropout = 0.4;
  std::string pooling = "flatten";  // query outputs → classifier input: flatten | mean
  int classifier_hidden = 0;        // hidden width of the classifier MLP; 0 = half its input width
  std::string single_stream_pooling = "attentive";  // acoustic_only / semantic_only: attentive | mean
  // What Top-K ranks: the projected patches (the paper: the projection comes before selection) or the raw patches
  // before it, which lets only the k kept patches be projected.
  std::string energy = "projected";

  template <class V>
  void Visit(V& v) {
    v("d_model", d_model, "projection width d");
    v("patch_aco", patch_aco, "average-pooling window over acoustic frames");
    v("patch_sem", patch_sem, "average-pooling window over semantic tokens");
    v("k_aco", k_aco, "acoustic tokens kept by Top-K energy");
    v("k_sem", k_sem, "semantic tokens kept by Top-K energy");
    v("num_queries", num_queries, "learnable queries");
    v("num_heads", num_heads, "attention heads");
    v("mlp_ratio", mlp_ratio, "MLP hidden width / d_model");
    v("dropout", dropout);
    v("pooling", pooling, "flatten | mean (query outputs)");
    v("classifier_hidden", classifier_hidden, "0 = half the classifier's input width");
    v("single_stream_pooling", single_stream_pooling, "acoustic_only / semantic_only: attentive | mean");
    v("energy", energy, "fas: Top-K ranks the projected patches (projected, the paper) or the raw ones (raw)");
  }
  // Throws ConfigError naming the first bad field (`model.fusion.<key>`).
  void Validate() const;
};

// Head names accepted by MakeFusionHead: the paper's heads in the order its tables list them, then ours.
const std::vector<std::string>& FusionHeadNames();

// One batch of stream features as the head sees them. Masks are bool, true = a real frame / token.
struct FusionInput {
  torch::Tensor acoustic;       // [B, Ta, Da]
  torch::Tensor acoustic_mask;  // [B, Ta]
  torch::Tensor semantic;       // [B, Ts, Ds]
  torch::Tensor semantic_mask;  // [B, Ts]
  // The stream is already its patch means (a feature store pooled it with the head's window): not pooled again.
  bool acoustic_patched = false;
  bool semantic_patched = false;
};

struct FusionOutput {
  torch::Tensor logits;          // [B, C]
  torch::Tensor attention;       // [B, Nq, N] weights over the attended tokens (heads averaged); undefined if none
  torch::Tensor token_stream;    // [B, N] int64: 0 acoustic, 1 semantic, -1 an empty (padding) slot
  torch::Tensor acoustic_share;  // [B] in [0, 1]: attention (or gate, or stream weight) mass on the acoustic
                                 // pathway; undefined when the head has no such notion (concat, cross_attention)
};

// Token selection by score: keeps the k highest-scoring valid tokens of each row, in time order. Padding is
// never selected; a row with fewer than k valid tokens fills the remaining slots with zeros and mask false.
struct TokenSelection {
  torch::Tensor tokens;  // [B, k, D]
  torch::Tensor mask;    // [B, k] bool
  torch::Tensor index;   // [B, k] int64 position in the input (0 for empty slots)
};
TokenSelection SelectTokens(const torch::Tensor& tokens, const torch::Tensor& mask, const torch::Tensor& scores,
                            int64_t k);
// Rows index[b] of x[b]: x [B, N, D], index [B, k] int64 → [B, k, D] (x.gather along dim 1, row by row).
torch::Tensor GatherRows(const torch::Tensor& x, const torch::Tensor& index);
// Top-K by L2 norm ("energy"), the paper's selection.
TokenSelection TopKByEnergy(const torch::Tensor& tokens, const torch::Tensor& mask, int64_t k);
// Scores for the `fas_random_select` ablation. Training: uniform random (from the global generator, so seeded by
// the run's seed). Evaluation: deterministic, k evenly spaced valid tokens (the same spread a random pick has on
// average, and a prediction that does not change from one call to the next).
torch::Tensor RandomSelectionScores(const torch::Tensor& mask, int64_t k, bool training);

// Average pooling over windows of `s` frames that respects the mask: a window's value is the mean of its valid
// frames, and it is valid when any of its frames is. T is padded up to a multiple of s.
std::pair<torch::Tensor, torch::Tensor> Patchify(const torch::Tensor& x, const torch::Tensor& mask, int64_t s);

class FusionHeadImpl : public torch::nn::Module {
 public:
  virtual FusionOutput Forward(const FusionInput& input) = 0;
  virtual const std::string& name() const = 0;
  // Which pathways the head reads: a model skips encoding the other one.
  virtual bool uses_acoustic() const { return true; }
  virtual bool uses_semantic() const { return true; }
  // Whether the head reads each stream only through Patchify with its config's windows (patch_aco, patch_sem):
  // then a store may keep the patch means instead of the frames, and the logits are the same.
  virtual bool reads_patches() const { return false; }
};

// Which pathways a named head reads (throws ConfigError on an unknown name, listing the known ones).
struct HeadStreams {
  bool acoustic = true;
  bool semantic = true;
};
HeadStreams FusionHeadStreams(const std::string& name);
// What a named head does, in one line (throws ConfigError on an unknown name, as FusionHeadStreams).
const std::string& FusionHeadDescription(const std::string& name);

// Builds a head by name (FusionHeadNames()); `acoustic_dim` / `semantic_dim` are the encoders' output widths.
// Throws ConfigError on an unknown name, naming the known ones.
std::shared_ptr<FusionHeadImpl> MakeFusionHead(const std::string& name, const FusionConfig& config,
                                               int64_t acoustic_dim, int64_t semantic_dim, int64_t num_classes);

// Number of elements in parameters that require a gradient.
int64_t CountTrainableParameters(const torch::nn::Module& module);

}  // namespace fas
