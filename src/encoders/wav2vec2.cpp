// The wav2vec2 / HuBERT / WavLM modules, computing what HuggingFace transformers' Wav2Vec2Model, HubertModel and
// WavLMModel compute, module for module; names of registered submodules and parameters are theirs. Each module's
// plain code is that reference; where a CPU speed route of fas/encoders/kernels/ applies (kernels auto, see
// fas/encoders/kernels.h), the module hands its input to the route instead, first thing in its forward.
#include "fas/encoders/kernels/gpu_attention.h"
#include "fas/encoders/wav2vec2.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>
#include <optional>

#include "fas/audio/features.h"
#include "fas/core/error.h"
#include "fas/encoders/kernels.h"
#include "fas/encoders/kernels/attention.h"
#include "fas/encoders/kernels/channels_last_conv.h"
#include "fas/encoders/kernels/head_parallel_attention.h"
#include "fas/encoders/kernels/onednn_linear.h"
#include "fas/encoders/kernels/time_major_conv.h"

namespace fas {
namespace wav2vec2_detail {

using torch::indexing::Slice;

torch::Tensor Activation(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  if (name == "swish" || name == "silu") return torch::silu(x);
  throw ConfigError("unsupported activation '" + name + "' (gelu, gelu_new, relu, swish)");
}

// As HuggingFace's nn.Linear (ATen's linear: one addmm with the bias folded in for 2-D and contiguous 3-D input).
// torch::nn::Linear's forward (nn::functional::linear) runs a matmul and then a separate add of the bias.
torch::Tensor Linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return torch::linear(x, layer->weight, layer->bias);
}

bool Fast(const AcousticEncoderConfig& c) { return c.kernels != kernels::kReference; }

class ConvLayerImpl : public torch::nn::Module {
 public:
  ConvLayerImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool bias, const std::string& norm,
                std::string activation)
      : activation_(std::move(activation)) {
    conv =
        register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(in, out, kernel).stride(stride).bias(bias)));
    if (norm == "group") {
      group_norm = register_module("layer_norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(out, out)));
    } else if (norm == "layer") {
      layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({out})));
    }
  }
  torch::Tensor forward(torch::Tensor x) {  // [B, C, T]
    x = conv(x);
    if (group_norm) x = group_norm(x);
    if (layer_norm) x = layer_norm(x.transpose(1, 2)).transpose(1, 2);
    return Activation(activation_, x);
  }

  // forward on time-major x [B, T, C] -> [B, T', C'] through kernels::TimeMajorConv.
  torch::Tensor ForwardTimeMajor(const torch::Tensor& x) {
    auto y = time_major_(x, conv, group_norm);
    if (layer_norm) y = layer_norm(y);
    // In place: y is the route's own fresh buffer, and one [T', C'] pass less matters at this size.
    if (activation_ == "gelu") return torch::gelu_(y);
    if (activation_ == "relu") return torch::relu_(y);
    return Activation(activation_, y);
  }
  torch::nn::Conv1d conv{nullptr};
  torch::nn::GroupNorm group_norm{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};

 private:
  std::string activation_;
  kernels::TimeMajorConv time_major_;
};
TORCH_MODULE(ConvLayer);

class FeatureEncoderImpl : public torch::nn::Module {
 public:
  explicit FeatureEncoderImpl(const AcousticEncoderConfig& c) : fast_(Fast(c)) {
    conv_layers = register_module("conv_layers", torch::nn::ModuleList());
    for (size_t i = 0; i < c.conv_dim.size(); ++i) {
      const std::string norm = c.feat_extract_norm == "layer" ? "layer" : (i == 0 ? "group" : "none");
      conv_layers->push_back(ConvLayer(i == 0 ? 1 : c.conv_dim[i - 1], c.conv_dim[i], c.conv_kernel[i],
                                       c.conv_stride[i], c.conv_bias, norm, c.feat_extract_activation));
    }
  }
  torch::Tensor forward(const torch::Tensor& waveform) {  // [B, T] -> [B, T', C], time-major
    if (kernels::TimeMajorConv::Applies(fast_, waveform)) {
      torch::Tensor x = waveform.unsqueeze(2).contiguous();
      for (const auto& layer : *conv_layers) x = layer->as<ConvLayerImpl>()->ForwardTimeMajor(x);
      return x;
    }
    torch::Tensor x = waveform.unsqueeze(1);
    for (const auto& layer : *conv_layers) x = layer->as<ConvLayerImpl>()->forward(x);
    return x.transpose(1, 2);
  }
  torch::nn::ModuleList conv_layers{nullptr};

 private:
  bool fast_;
};

class FeatureProjectionImpl : public torch::nn::Module {
 public:
  explicit FeatureProjectionImpl(const AcousticEncoderConfig& c) : fast_(Fast(c)), dropout_(c.feat_proj_dropout) {
    if (c.type != "hubert" || c.feat_proj_layer_norm) {
      layer_norm = register_module(
          "layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.FeatureDim()}).eps(c.layer_norm_eps)));
    }
    projection = register_module("projection", torch::nn::Linear(c.FeatureDim(), c.hidden_size));
  }
  torch::Tensor forward(torch::Tensor x) {  // [B, T, C]
    if (layer_norm) x = layer_norm(x);
    auto y = kernels::OneDnnLinear::Applies(fast_, x) ? onednn_(projection, x) : Linear(projection, x);
    return torch::dropout(y, dropout_, is_training());
  }
  torch::nn::LayerNorm layer_norm{nullptr};
  torch::nn::Linear projection{nullptr};

 private:
  bool fast_;
  double dropout_;
  kernels::OneDnnLinear onednn_;
};

// Conv1d with weight norm over dim 2 (torch.nn.utils.weight_norm(conv, dim=2)): weight = g * v / ||v||, the norm
// taken over every dim but the kernel position. Time-major in and out.
class WeightNormConv1dImpl : public torch::nn::Module {
 public:
  WeightNormConv1dImpl(int64_t channels, int64_t kernel, int64_t groups, bool fast)
      : groups_(groups), padding_(kernel / 2), fast_(fast) {
    // HuggingFace's init: normal(0, 2/sqrt(k*C)) for the weight, which weight_norm then splits into g and v.
    auto w = torch::randn({channels, channels / groups, kernel}) * (2.0 * std::sqrt(1.0 / (kernel * channels)));
    weight_g = register_parameter("weight_g", torch::norm_except_dim(w, 2, 2));
    weight_v = register_parameter("weight_v", w);
    bias = register_parameter("bias", torch::zeros({channels}));
  }
  torch::Tensor forward(const torch::Tensor& x) {  // [B, T, C] -> [B, T + 2 * padding - kernel + 1, C]
    if (kernels::ChannelsLastConv::Applies(fast_)) {
      return channels_last_(x, weight_g, weight_v, bias, padding_, groups_);
    }
    auto weight = torch::_weight_norm(weight_v, weight_g, 2);
    return torch::conv1d(x.transpose(1, 2), weight, bias, 1, padding_, 1, groups_).transpose(1, 2);
  }
  torch::Tensor weight_g, weight_v, bias;

 private:
  int64_t groups_, padding_;
  bool fast_;
  kernels::ChannelsLastConv channels_last_;
};
TORCH_MODULE(WeightNormConv1d);

class PositionalConvEmbeddingImpl : public torch::nn::Module {
 public:
  explicit PositionalConvEmbeddingImpl(const AcousticEncoderConfig& c)
      : remove_(c.num_conv_pos_embeddings % 2 == 0 ? 1 : 0), activation_(c.feat_extract_activation) {
    conv = register_module(
        "conv", WeightNormConv1d(c.hidden_size, c.num_conv_pos_embeddings, c.num_conv_pos_embedding_groups, Fast(c)));
  }
  torch::Tensor forward(const torch::Tensor& x) {  // [B, T, D]
    auto y = conv(x);
    // An even kernel with padding k/2 yields one extra frame: HuggingFace's SamePadLayer drops the last.
    if (remove_ > 0) y = y.slice(1, 0, -remove_);
    return Activation(activation_, y);
  }
  WeightNormConv1d conv{nullptr};

 private:
  int64_t remove_;
  std::string activation_;
};
TORCH_MODULE(PositionalConvEmbedding);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const AcousticEncoderConfig& c, bool wavlm, bool has_relative_position_bias)
      : fast_(Fast(c)),
        heads_(c.num_attention_heads),
        head_dim_(c.hidden_size / c.num_attention_heads),
        dropout_(c.attention_dropout),
        num_buckets_(c.num_buckets),
        max_distance_(c.max_bucket_distance) {
    const int64_t d = c.hidden_size;
    k_proj = register_module("k_proj", torch::nn::Linear(d, d));
    v_proj = register_module("v_proj", torch::nn::Linear(d, d));
    q_proj = register_module("q_proj", torch::nn::Linear(d, d));
    out_proj = register_module("out_proj", torch::nn::Linear(d, d));
    if (wavlm) {
      gru_rel_pos_const = register_parameter("gru_rel_pos_const", torch::ones({1, heads_, 1, 1}));
      gru_rel_pos_linear = register_module("gru_rel_pos_linear", torch::nn::Linear(head_dim_, 8));
      if (has_relative_position_bias) {
        rel_attn_embed = register_module("rel_attn_embed", torch::nn::Embedding(num_buckets_, heads_));
      }
    }
  }

  // WavLM's bucketed relative position bias, [H, T, T] (compute_bias / _relative_positions_bucket).
  torch::Tensor ComputeBias(int64_t length) {
    auto pos = torch::arange(length, torch::kLong);
    auto relative = pos.unsqueeze(0) - pos.unsqueeze(1);  // memory - context
    const int64_t half = num_buckets_ / 2;
    auto buckets = relative.gt(0).to(torch::kLong) * half;
    relative = relative.abs();
    const int64_t max_exact = half / 2;
    auto is_small = relative.lt(max_exact);
    auto large = torch::log(relative.to(torch::kFloat) / static_cast<float>(max_exact));
    large = large / std::log(static_cast<double>(max_distance_) / max_exact);
    large = large * static_cast<double>(half - max_exact);
    auto large_bucket = (large + static_cast<double>(max_exact)).to(torch::kLong).clamp_max(half - 1);
    buckets = buckets + torch::where(is_small, relative, large_bucket);
    return rel_attn_embed(buckets.to(rel_attn_embed->weight.device())).permute({2, 0, 1});
  }

  // x [B, T, D]; mask_bias [B, 1, 1, T] additive or undefined; position_bias [H, T, T] (WavLM) or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask_bias, const torch::Tensor& position_bias) {
    const kernels::AttentionBiases biases{mask_bias, position_bias,
                                          position_bias.defined() ? Gate(x) : torch::Tensor()};
    const kernels::AttentionProjections p{q_proj, k_proj, v_proj, out_proj, heads_};
    if (kernels::HeadParallelAttention::Applies(fast_, x)) return head_parallel_(p, fused_, x, biases);
    if (kernels::FusedQkvAttention::Applies(fast_)) return kernels::FusedQkvAttention::Run(p, fused_, x, biases);
    const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
    auto q = (Linear(q_proj, x) * p.scale()).view({b, t, heads_, head_dim_}).transpose(1, 2);
    auto k = Linear(k_proj, x).view({b, t, heads_, head_dim_}).transpose(1, 2);
    auto v = Linear(v_proj, x).view({b, t, heads_, head_dim_}).transpose(1, 2);
    if (kernels::GpuAttention::Applies(q)) {
      const auto out = kernels::GpuAttention::Run(q, k, v, kernels::JoinBiases(biases), 1.0,
                                                  is_training() ? dropout_ : 0.0);
      return Linear(out_proj, out.transpose(1, 2).reshape({b, t, d}));
    }
    auto scores = kernels::AddBiases(torch::matmul(q, k.transpose(-2, -1)), biases);
    auto probs = torch::dropout(torch::softmax(scores, -1), dropout_, is_training());
    auto out = torch::matmul(probs, v).transpose(1, 2).reshape({b, t, d});
    return Linear(out_proj, out);
  }

  torch::nn::Linear k_proj{nullptr}, v_proj{nullptr}, q_proj{nullptr}, out_proj{nullptr};
  torch::Tensor gru_rel_pos_const;
  torch::nn::Linear gru_rel_pos_linear{nullptr};
  torch::nn::Embedding rel_attn_embed{nullptr};

 private:
  // WavLM's gate on the position bias, [B, H, T, 1]: gate = a * (b * const - 1) + 2, a and b from a projection of
  // the layer's input.
  torch::Tensor Gate(const torch::Tensor& x) {
    const int64_t b = x.size(0), t = x.size(1);
    auto proj = gru_rel_pos_linear(x.reshape({b, t, heads_, head_dim_}).transpose(1, 2));  // [B, H, T, 8]
    auto gates = torch::sigmoid(proj.view({b, heads_, t, 2, 4}).sum(-1));                  // [B, H, T, 2]
    auto gate_a = gates.index({"...", Slice(0, 1)});
    auto gate_b = gates.index({"...", Slice(1, 2)});
    return gate_a * (gate_b * gru_rel_pos_const - 1.0) + 2.0;
  }

  bool fast_;
  int64_t heads_, head_dim_;
  double dropout_;
  int64_t num_buckets_, max_distance_;
  kernels::FusedQkv fused_;
  kernels::HeadParallelAttention head_parallel_;
};
TORCH_MODULE(Attention);

class FeedForwardImpl : public torch::nn::Module {
 public:
  explicit FeedForwardImpl(const AcousticEncoderConfig& c)
      : fast_(Fast(c)),
        act_(c.hidden_act),
        activation_dropout_(c.activation_dropout),
        hidden_dropout_(c.hidden_dropout) {
    intermediate_dense = register_module("intermediate_dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
    output_dense = register_module("output_dense", torch::nn::Linear(c.intermediate_size, c.hidden_size));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (kernels::OneDnnLinear::Applies(fast_, x)) {
      const auto h = intermediate_(intermediate_dense, x, post_);
      return output_(output_dense, post_ == kernels::PostOp::kNone ? Activation(act_, h) : h);
    }
    auto h = torch::dropout(Activation(act_, Linear(intermediate_dense, x)), activation_dropout_, is_training());
    return torch::dropout(Linear(output_dense, h), hidden_dropout_, is_training());
  }
  torch::nn::Linear intermediate_dense{nullptr}, output_dense{nullptr};

 private:
  bool fast_;
  std::string act_;
  kernels::PostOp post_ = kernels::FusedActivation(act_);  // the activation inside oneDNN's product, if it can be
  double activation_dropout_, hidden_dropout_;
  kernels::OneDnnLinear intermediate_, output_;
};
TORCH_MODULE(FeedForward);

class EncoderLayerImpl : public torch::nn::Module {
 public:
  EncoderLayerImpl(const AcousticEncoderConfig& c, bool has_relative_position_bias)
      : stable_(c.do_stable_layer_norm), dropout_(c.hidden_dropout) {
    attention = register_module("attention", Attention(c, c.type == "wavlm", has_relative_position_bias));
    layer_norm = register_module(
        "layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
    feed_forward = register_module("feed_forward", FeedForward(c));
    final_layer_norm = register_module(
        "final_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask_bias, const torch::Tensor& position_bias) {
    if (stable_) {
      auto h = x + torch::dropout(attention(layer_norm(x), mask_bias, position_bias), dropout_, is_training());
      return h + feed_forward(final_layer_norm(h));
    }
    auto h = layer_norm(x + torch::dropout(attention(x, mask_bias, position_bias), dropout_, is_training()));
    return final_layer_norm(h + feed_forward(h));
  }
  Attention attention{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  FeedForward feed_forward{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};

 private:
  bool stable_;
  double dropout_;
};
TORCH_MODULE(EncoderLayer);

class TransformerEncoderImpl : public torch::nn::Module {
 public:
  explicit TransformerEncoderImpl(const AcousticEncoderConfig& c)
      : stable_(c.do_stable_layer_norm),
        wavlm_(c.type == "wavlm"),
        dropout_(c.hidden_dropout),
        layerdrop_(c.layerdrop) {
    pos_conv_embed = register_module("pos_conv_embed", PositionalConvEmbedding(c));
    layer_norm = register_module(
        "layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(EncoderLayer(c, wavlm_ && i == 0));
  }

  // x [B, T, D] projected features; mask [B, T] bool or undefined (no padding).
  std::vector<torch::Tensor> forward(torch::Tensor x, const torch::Tensor& mask, bool layerdrop) {
    torch::Tensor mask_bias;
    if (mask.defined()) {
      x = x * mask.unsqueeze(-1).to(x.dtype());  // padded frames enter the positional conv as zeros
      // In float32 even under autocast: the lowest float is its padding value (HuggingFace's), and bf16 has no room.
      mask_bias = torch::zeros(mask.sizes(), x.options().dtype(torch::kFloat32))
                      .masked_fill(mask.logical_not(), std::numeric_limits<float>::lowest())
                      .view({mask.size(0), 1, 1, mask.size(1)});
    }
    x = x + pos_conv_embed(x);
    if (!stable_) x = layer_norm(x);
    x = torch::dropout(x, dropout_, is_training());
    torch::Tensor position_bias;
    if (wavlm_) position_bias = layers[0]->as<EncoderLayerImpl>()->attention->ComputeBias(x.size(1)).to(x.dtype());
    std::vector<torch::Tensor> hidden{x};
    for (size_t i = 0; i < layers->size(); ++i) {
      // HuggingFace's LayerDrop: WavLM never drops layer 0 (it owns the position bias).
      const bool skip = layerdrop && is_training() && layerdrop_ > 0 && !(wavlm_ && i == 0) &&
                        torch::rand({1}).item<double>() < layerdrop_;
      if (!skip) x = layers[i]->as<EncoderLayerImpl>()->forward(x, mask_bias, position_bias);
      hidden.push_back(x);
    }
    if (stable_) hidden.back() = layer_norm(hidden.back());
    return hidden;
  }

  PositionalConvEmbedding pos_conv_embed{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  torch::nn::ModuleList layers{nullptr};

 private:
  bool stable_, wavlm_;
  double dropout_, layerdrop_;
};

}  // namespace wav2vec2_detail

using namespace wav2vec2_detail;

AcousticEncoderImpl::AcousticEncoderImpl(const AcousticEncoderConfig& config)
    : EncoderModule("AcousticEncoder"), config_(config) {
  config_.kernels = kernels::EffectiveKernels(config_.kernels);
  config_.Validate();
  if (config_.feature_extractor == "conv") {
    feature_extractor_ = register_module("feature_extractor", std::make_shared<FeatureEncoderImpl>(config_));
  }
  feature_projection_ = register_module("feature_projection", std::make_shared<FeatureProjectionImpl>(config_));
  encoder_ = register_module("encoder", std::make_shared<TransformerEncoderImpl>(config_));
  if (config_.mask_time_prob > 0 || config_.mask_feature_prob > 0) {
    masked_spec_embed_ = register_parameter("masked_spec_embed", torch::rand({config_.hidden_size}));
  }
  // HuggingFace's _init_weights for what LibTorch initialises differently: Linear N(0, 0.02) with zero bias,
  // kaiming-normal convs, unit LayerNorm; the projection keeps its uniform(+-1/sqrt(in)) default.
  torch::NoGradGuard no_grad;
  for (auto& m : encoder_->modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::LinearImpl>()) {
      lin->weight.normal_(0.0, 0.02);
      if (lin->bias.defined()) lin->bias.zero_();
    }
  }
  if (feature_extractor_) {
    for (auto& m : feature_extractor_->modules(false)) {
      if (auto* conv = m->as<torch::nn::Conv1dImpl>()) torch::nn::init::kaiming_normal_(conv->weight);
    }
  }
  SetFreeze(config_.freeze);
}

torch::Tensor AcousticEncoderImpl::FrameLengths(const torch::Tensor& sample_lengths) const {
  auto n = sample_lengths.to(torch::kLong);
  if (config_.feature_extractor == "fbank") {
    // Centred STFT frames (1 + n / hop), then whole stacks.
    return torch::div(torch::div(n, AcousticEncoderConfig::kFbankHop, "floor") + 1, config_.fbank_stack, "floor");
  }
  for (size_t i = 0; i < config_.conv_kernel.size(); ++i) {
    n = torch::div(n - config_.conv_kernel[i], config_.conv_stride[i], "floor") + 1;
  }
  return n;
}

namespace {

// HuggingFace's _compute_mask_indices for one row: about prob * length / span spans (at least 2, at most what
// fits) of `span` positions at distinct random starts.
void MaskSpans(torch::Tensor row_mask, int64_t length, double prob, int64_t span) {
  if (prob <= 0 || length < span) return;
  const double expected = prob * length / span + torch::rand({1}).item<double>();
  const int64_t spans = std::min<int64_t>(std::max<int64_t>(static_cast<int64_t>(expected), 2), length / span);
  auto starts = torch::randperm(length - span + 1).index({Slice(0, spans)});
  for (int64_t s = 0; s < spans; ++s) {
    const int64_t start = starts[s].item<int64_t>();
    row_mask.index_put_({Slice(start, start + span)}, true);
  }
}

}  // namespace

torch::Tensor AcousticEncoderImpl::SpecAugment(const torch::Tensor& hidden, const torch::Tensor& frame_lengths) {
  const int64_t b = hidden.size(0), t = hidden.size(1), d = hidden.size(2);
  auto lengths = frame_lengths.to(torch::kCPU);
  torch::Tensor out = hidden;
  if (config_.mask_time_prob > 0) {
    auto time_mask = torch::zeros({b, t}, torch::kBool);
    for (int64_t i = 0; i < b; ++i) {
      MaskSpans(time_mask[i], lengths[i].item<int64_t>(), config_.mask_time_prob, config_.mask_time_length);
    }
    out = torch::where(time_mask.to(hidden.device()).unsqueeze(-1), masked_spec_embed_.to(hidden.dtype()), out);
  }
  if (config_.mask_feature_prob > 0) {
    auto feature_mask = torch::zeros({b, d}, torch::kBool);
    for (int64_t i = 0; i < b; ++i) {
      MaskSpans(feature_mask[i], d, config_.mask_feature_prob, config_.mask_feature_length);
    }
    out = out.masked_fill(feature_mask.to(hidden.device()).unsqueeze(1), 0.0);
  }
  return out;
}

EncoderOutput AcousticEncoderImpl::forward(const torch::Tensor& waveform_in, const torch::Tensor& lengths) {
  const torch::Tensor waveform = waveform_in.to(feature_projection_->projection->weight.device());
  const torch::Tensor sample_lengths = SampleLengths("acoustic encoder", waveform, lengths, config_.ReceptiveField());
  const int64_t t = waveform.size(1), min_len = sample_lengths.min().item<int64_t>();
  torch::Tensor features;
  {
    // A frozen front end needs no autograd graph (HuggingFace's freeze_feature_encoder does the same).
    std::optional<torch::NoGradGuard> no_grad;
    if (freeze_ != "none") no_grad.emplace();
    const auto dtype = feature_projection_->projection->weight.scalar_type();
    features = feature_extractor_ ? feature_extractor_->forward(waveform.to(dtype)) : Fbank(waveform).to(dtype);
  }
  const int64_t frames = features.size(1);
  EncoderOutput out;
  out.lengths = FrameLengths(sample_lengths).clamp_max(frames);
  out.mask = torch::arange(frames, out.lengths.options()).unsqueeze(0).lt(out.lengths.unsqueeze(1));
  auto x = feature_projection_->forward(features);
  if (is_training() && masked_spec_embed_.defined() && freeze_ != "all") x = SpecAugment(x, out.lengths);
  const bool padded = min_len < t;
  out.hidden_states = encoder_->forward(x, padded ? out.mask : torch::Tensor(), layerdrop_enabled_);
  return out;
}

torch::Tensor AcousticEncoderImpl::Fbank(const torch::Tensor& waveform) const {
  LogMelConfig mel;
  mel.n_fft = static_cast<int>(AcousticEncoderConfig::kFbankWindow);
  mel.hop_length = static_cast<int>(AcousticEncoderConfig::kFbankHop);
  mel.n_mels = static_cast<int>(config_.fbank_bins);
  mel.log = "log";
  mel.floor = 1e-6;
  mel.drop_last_frame = false;
  const int64_t k = config_.fbank_stack;
  auto x = LogMelSpectrogram(waveform.to(torch::kFloat32), mel).transpose(1, 2);  // [B, frames, bins]
  const int64_t frames = x.size(1) / k * k;
  return x.slice(1, 0, frames).reshape({x.size(0), frames / k, config_.fbank_bins * k});
}

EncoderOutput AcousticEncoderImpl::Encode(const EncoderInput& input) {
  if (!input.waveform.defined()) throw DataError("acoustic encoder: no waveform given");
  if (freeze_ == "all") {
    torch::NoGradGuard no_grad;
    return forward(input.waveform, input.lengths);
  }
  return forward(input.waveform, input.lengths);
}

LoadReport AcousticEncoderImpl::LoadWeights(const std::string& safetensors_path) {
  auto report = LoadStateDict(*this, safetensors_path, AcousticNameMap());
  SetFreeze(freeze_);  // loading copies values only; keep requires_grad as the freeze mode says
  return report;
}

void AcousticEncoderImpl::SetFreeze(const std::string& mode) {
  if (mode != "none" && mode != "feature_extractor" && mode != "all") {
    throw ConfigError("freeze must be none, feature_extractor or all (got '" + mode + "')");
  }
  freeze_ = mode;
  SetRequiresGrad(*this, mode != "all");
  if (mode == "feature_extractor" && feature_extractor_) SetRequiresGrad(*feature_extractor_, false);
}

void AcousticEncoderImpl::OnTrainStep(int64_t step) {
  if (unfrozen_ || config_.unfreeze_after_steps <= 0 || step < config_.unfreeze_after_steps) return;
  unfrozen_ = true;
  if (freeze_ == "none") return;
  // Fine-tuning recipes keep the conv front end frozen longest: all -> feature_extractor -> none.
  const std::string next = freeze_ == "all" ? "feature_extractor" : "none";
  spdlog::info("acoustic encoder: step {} reached unfreeze_after_steps={}: freeze {} -> {}", step,
               config_.unfreeze_after_steps, freeze_, next);
  SetFreeze(next);
}

AcousticEncoder CreateAcousticEncoder(const AcousticEncoderConfig& config) {
  const AcousticEncoderConfig resolved = ResolveAcousticConfig(config);
  AcousticEncoder encoder(resolved);
  if (!resolved.weights.empty()) encoder->LoadWeights(resolved.weights);
  return encoder;
}

}  // namespace fas
