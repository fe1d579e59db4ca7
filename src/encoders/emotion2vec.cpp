// The emotion2vec modules, computing what FunASR's Emotion2vec.extract_features computes (audio.py, base.py,
// modules.py, fairseq_modules.py), module for module. Children are registered under the published names, fairseq's
// nn.Sequential indices included ("conv_layers.0.0" is a conv, "conv_layers.0.2.1" its LayerNorm), so the
// converted checkpoint loads by name with no table of renames.
#include "fas/encoders/kernels/gpu_attention.h"
#include "fas/encoders/emotion2vec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "fas/core/error.h"

namespace fas {
namespace emotion2vec_detail {

using torch::indexing::Slice;

// fairseq's default LayerNorm epsilon: the front end's and the positional encoder's norms ignore model_conf's
// norm_eps, which only the transformer blocks use.
constexpr double kFairseqEps = 1e-5;

torch::nn::LayerNorm MakeLayerNorm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// Sequential(TransposeLast, Fp32LayerNorm, TransposeLast): the norm is child "1".
class ChannelNormImpl : public torch::nn::Module {
 public:
  explicit ChannelNormImpl(int64_t dim) { norm = register_module("1", MakeLayerNorm(dim, kFairseqEps)); }
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(ChannelNorm);

// Sequential(Conv1d, Dropout, ChannelNorm, GELU): conv without bias, LayerNorm over channels, GELU.
class ConvBlockImpl : public torch::nn::Module {
 public:
  ConvBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
    conv =
        register_module("0", torch::nn::Conv1d(torch::nn::Conv1dOptions(in, out, kernel).stride(stride).bias(false)));
    channel_norm = register_module("2", ChannelNorm(out));
  }
  torch::Tensor forward(const torch::Tensor& x) {  // [B, C, T]
    auto y = channel_norm->norm(conv(x).transpose(1, 2)).transpose(1, 2);
    return torch::gelu(y);
  }
  torch::nn::Conv1d conv{nullptr};
  ChannelNorm channel_norm{nullptr};
};
TORCH_MODULE(ConvBlock);

class LocalEncoderImpl : public torch::nn::Module {
 public:
  explicit LocalEncoderImpl(const Emotion2VecConfig& c) {
    conv_layers = register_module("conv_layers", torch::nn::ModuleList());
    for (size_t i = 0; i < c.conv_dim.size(); ++i) {
      conv_layers->push_back(
          ConvBlock(i == 0 ? 1 : c.conv_dim[i - 1], c.conv_dim[i], c.conv_kernel[i], c.conv_stride[i]));
    }
  }
  torch::Tensor forward(const torch::Tensor& waveform) {  // [B, T] -> [B, T', C]
    auto x = waveform.unsqueeze(1);
    for (const auto& layer : *conv_layers) x = layer->as<ConvBlockImpl>()->forward(x);
    return x.transpose(1, 2);
  }
  torch::nn::ModuleList conv_layers{nullptr};
};
TORCH_MODULE(LocalEncoder);

// Sequential(TransposeLast, LayerNorm, Linear).
class ProjectFeaturesImpl : public torch::nn::Module {
 public:
  explicit ProjectFeaturesImpl(const Emotion2VecConfig& c) {
    norm = register_module("1", MakeLayerNorm(c.conv_dim.back(), kFairseqEps));
    linear = register_module("2", torch::nn::Linear(c.conv_dim.back(), c.embed_dim));
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::linear(norm(x), linear->weight, linear->bias); }
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(ProjectFeatures);

// One Sequential(Conv1d, SamePad, TransposeLast, LayerNorm without affine, TransposeLast, GELU): the conv is "0".
class PositionalLayerImpl : public torch::nn::Module {
 public:
  PositionalLayerImpl(int64_t dim, int64_t kernel, int64_t groups) : dim_(dim), kernel_(kernel) {
    conv = register_module(
        "0", torch::nn::Conv1d(torch::nn::Conv1dOptions(dim, dim, kernel).padding(kernel / 2).groups(groups)));
  }
  torch::Tensor forward(const torch::Tensor& x) {  // [B, D, T]
    auto y = conv(x);
    // SamePad: an even kernel with padding k / 2 yields one frame too many; the last is dropped.
    if (kernel_ % 2 == 0) y = y.slice(2, 0, -1);
    y = torch::layer_norm(y.transpose(1, 2), {dim_}, {}, {}, kFairseqEps).transpose(1, 2);
    return torch::gelu(y);
  }
  torch::nn::Conv1d conv{nullptr};

 private:
  int64_t dim_, kernel_;
};
TORCH_MODULE(PositionalLayer);

// Sequential(TransposeLast, layer 1 .. layer depth, TransposeLast): the layers are children "1" .. "depth".
class RelativePositionalEncoderImpl : public torch::nn::Module {
 public:
  explicit RelativePositionalEncoderImpl(const Emotion2VecConfig& c) {
    for (int64_t i = 1; i <= c.conv_pos_depth; ++i) {
      layers_.push_back(
          register_module(std::to_string(i), PositionalLayer(c.embed_dim, c.PositionalKernel(), c.conv_pos_groups)));
    }
  }
  // x [B, T, D]; mask [B, T] bool or undefined. Every layer reads zeros past an utterance's end, as the utterance
  // alone would see (the published code lets later layers read what earlier ones made of the padding).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask) {
    auto y = x.transpose(1, 2);
    const auto keep = mask.defined() ? mask.unsqueeze(1).to(x.dtype()) : torch::Tensor();
    for (auto& layer : layers_) y = layer(keep.defined() ? y * keep : y);
    return y.transpose(1, 2);
  }

 private:
  std::vector<PositionalLayer> layers_;
};
TORCH_MODULE(RelativePositionalEncoder);

// AltAttention: one qkv projection, ALiBi bias added to the scores, padded keys masked, softmax in float32.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads) : heads_(heads), scale_(1.0 / std::sqrt(static_cast<double>(dim / heads))) {
    qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
  }
  // x [B, N, D]; key_padding [B, N] bool (true = padded) or undefined; alibi [1 or B, H, N, N] or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_padding, const torch::Tensor& alibi) {
    const int64_t b = x.size(0), n = x.size(1), d = x.size(2);
    auto qkv_out =
        torch::linear(x, qkv->weight, qkv->bias).reshape({b, n, 3, heads_, d / heads_}).permute({2, 0, 3, 1, 4});
    auto q = qkv_out[0] * scale_, k = qkv_out[1], v = qkv_out[2];
    if (kernels::GpuAttention::Applies(q)) {
      torch::Tensor bias = alibi;
      if (key_padding.defined()) {
        const auto padded = key_padding.view({b, 1, 1, n});
        if (!bias.defined()) bias = torch::zeros(padded.sizes(), x.options().dtype(torch::kFloat32));
        bias = bias.masked_fill(padded, -std::numeric_limits<float>::infinity());
      }
      const auto o = kernels::GpuAttention::Run(q, k, v, bias, 1.0, 0.0);
      return torch::linear(o.transpose(1, 2).reshape({b, n, d}), proj->weight, proj->bias);
    }
    auto scores = torch::matmul(q, k.transpose(-2, -1));
    if (alibi.defined()) scores = scores.to(alibi.dtype()) + alibi;
    if (key_padding.defined()) {
      scores = scores.masked_fill(key_padding.view({b, 1, 1, n}), -std::numeric_limits<float>::infinity());
    }
    auto probs = torch::softmax(scores, -1, torch::kFloat32).to(x.dtype());
    auto out = torch::matmul(probs, v).transpose(1, 2).reshape({b, n, d});
    return torch::linear(out, proj->weight, proj->bias);
  }
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t heads_;
  double scale_;
};
TORCH_MODULE(Attention);

// timm's Mlp: fc1, GELU, fc2.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t dim, int64_t hidden) {
    fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::linear(torch::gelu(torch::linear(x, fc1->weight, fc1->bias)), fc2->weight, fc2->bias);
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

// AltBlock, post-LN (layer_norm_first false): x = norm1(x + attn(x)); x = norm2(x + mlp(x)).
class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const Emotion2VecConfig& c) {
    norm1 = register_module("norm1", MakeLayerNorm(c.embed_dim, c.norm_eps));
    attn = register_module("attn", Attention(c.embed_dim, c.num_heads));
    norm2 = register_module("norm2", MakeLayerNorm(c.embed_dim, c.norm_eps));
    mlp = register_module("mlp", Mlp(c.embed_dim, static_cast<int64_t>(c.embed_dim * c.mlp_ratio)));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_padding, const torch::Tensor& alibi) {
    auto h = norm1(x + attn(x, key_padding, alibi));
    return norm2(h + mlp(h));
  }
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

// BlockEncoder with layer_norm_first false: the norm comes before the blocks.
class ContextEncoderImpl : public torch::nn::Module {
 public:
  explicit ContextEncoderImpl(const Emotion2VecConfig& c) {
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.prenet_depth; ++i) blocks->push_back(Block(c));
    norm = register_module("norm", MakeLayerNorm(c.embed_dim, c.norm_eps));
  }
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(ContextEncoder);

// ALiBi slopes of `heads` heads, as get_alibi's get_slopes: a geometric series for a power of two; otherwise the
// nearest lower power's series plus every other slope of the next power's.
std::vector<double> AlibiSlopes(int64_t heads) {
  auto power_of_two = [](int64_t n) {
    const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3)));
    std::vector<double> s;
    for (int64_t i = 0; i < n; ++i) s.push_back(start * std::pow(start, static_cast<double>(i)));
    return s;
  };
  const double log2n = std::log2(static_cast<double>(heads));
  if (log2n == std::floor(log2n)) return power_of_two(heads);
  const int64_t closest = int64_t{1} << static_cast<int64_t>(std::floor(log2n));
  auto slopes = power_of_two(closest);
  const auto extra = AlibiSlopes(2 * closest);
  for (size_t i = 0; i < extra.size() && static_cast<int64_t>(slopes.size()) < heads; i += 2)
    slopes.push_back(extra[i]);
  return slopes;
}

// The modality-specific part: everything up to and including the context encoder.
class AudioEncoderImpl : public torch::nn::Module {
 public:
  explicit AudioEncoderImpl(const Emotion2VecConfig& c) : config_(c) {
    local_encoder = register_module("local_encoder", LocalEncoder(c));
    project_features = register_module("project_features", ProjectFeatures(c));
    relative_positional_encoder = register_module("relative_positional_encoder", RelativePositionalEncoder(c));
    context_encoder = register_module("context_encoder", ContextEncoder(c));
    if (c.num_extra_tokens > 0) {
      extra_tokens = register_parameter("extra_tokens", torch::randn({1, c.num_extra_tokens, c.embed_dim}));
    }
    if (c.use_alibi_encoder) {
      const int64_t layers = c.learned_alibi_scale_per_layer ? c.prenet_depth + c.depth : 1;
      const int64_t heads = c.learned_alibi_scale_per_head ? c.num_alibi_heads : 1;
      alibi_scale = register_parameter("alibi_scale", torch::full({layers, 1, heads, 1, 1}, c.alibi_scale));
      const auto slopes = AlibiSlopes(c.num_alibi_heads);
      slopes_ = torch::tensor(std::vector<float>(slopes.begin(), slopes.end()));
    }
  }

  // ALiBi for every layer (prenet first, then the main blocks), [1, H, N, N] each with N = extra + frames; the
  // extra tokens get no bias. Undefined when the config has no ALiBi.
  std::vector<torch::Tensor> AlibiBiases(int64_t frames, int64_t layers) const {
    std::vector<torch::Tensor> out(layers);
    if (!alibi_scale.defined()) return out;
    auto pos = torch::arange(frames, torch::kFloat32);
    auto distance = -(pos.unsqueeze(0) - pos.unsqueeze(1)).abs();                             // [T, T]
    auto bias = (slopes_.view({-1, 1, 1}) * distance.unsqueeze(0)).to(alibi_scale.device());  // [H, T, T]
    const int64_t extra = config_.num_extra_tokens;
    bias = torch::constant_pad_nd(bias, {extra, 0, extra, 0}).unsqueeze(0);  // [1, H, N, N]
    const auto scale = alibi_scale.clamp_min(0).to(torch::kFloat32);
    if (scale.size(0) == 1) {
      // One scale for every layer: one [H, N, N] tensor shared by all of them, not a copy a layer.
      std::fill(out.begin(), out.end(), bias * scale[0]);
      return out;
    }
    for (int64_t i = 0; i < layers; ++i) out[i] = bias * scale[i];
    return out;
  }

  LocalEncoder local_encoder{nullptr};
  ProjectFeatures project_features{nullptr};
  RelativePositionalEncoder relative_positional_encoder{nullptr};
  ContextEncoder context_encoder{nullptr};
  torch::Tensor extra_tokens, alibi_scale;

 private:
  Emotion2VecConfig config_;
  torch::Tensor slopes_;
};

}  // namespace emotion2vec_detail

using namespace emotion2vec_detail;

Emotion2VecEncoderImpl::Emotion2VecEncoderImpl(const Emotion2VecConfig& config)
    : EncoderModule("Emotion2VecEncoder"), config_(config) {
  config_.Validate();
  modality_encoders_ = register_module("modality_encoders", torch::nn::ModuleDict());
  audio_ = std::make_shared<AudioEncoderImpl>(config_);
  modality_encoders_->update({{"AUDIO", audio_}});
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.depth; ++i) blocks_->push_back(Block(config_));
}

torch::Tensor Emotion2VecEncoderImpl::FrameLengths(const torch::Tensor& sample_lengths) const {
  auto n = sample_lengths.to(torch::kLong);
  for (size_t i = 0; i < config_.conv_kernel.size(); ++i) {
    n = torch::div(n - config_.conv_kernel[i], config_.conv_stride[i], "floor") + 1;
  }
  return n;
}

EncoderOutput Emotion2VecEncoderImpl::forward(const torch::Tensor& waveform_in, const torch::Tensor& lengths,
                                              Emotion2VecStages* stages) {
  const torch::Tensor waveform = waveform_in.to(audio_->project_features->linear->weight.device());
  const torch::Tensor sample_lengths = SampleLengths("emotion2vec", waveform, lengths, config_.ReceptiveField());
  const int64_t b = waveform.size(0), t = waveform.size(1), min_len = sample_lengths.min().item<int64_t>();
  const auto dtype = audio_->project_features->linear->weight.scalar_type();
  const auto sample_mask = torch::arange(t, sample_lengths.options()).unsqueeze(0).lt(sample_lengths.unsqueeze(1));
  auto wav = waveform.to(dtype) * sample_mask.to(dtype);
  if (config_.normalize) {
    // F.layer_norm(source, source.shape) over each utterance's own samples (biased variance, eps 1e-5).
    const auto keep = sample_mask.to(dtype);
    const auto count = sample_lengths.to(dtype).unsqueeze(1);
    const auto mean = wav.sum(1, true) / count;
    const auto var = ((wav - mean) * keep).pow(2).sum(1, true) / count;
    wav = (wav - mean) / torch::sqrt(var + 1e-5) * keep;
  }

  torch::Tensor local;
  {
    std::optional<torch::NoGradGuard> no_grad;
    if (freeze_ != "none") no_grad.emplace();
    local = audio_->local_encoder->forward(wav);
  }
  const int64_t frames = local.size(1);
  EncoderOutput out;
  out.lengths = FrameLengths(sample_lengths).clamp_max(frames);
  out.mask = torch::arange(frames, out.lengths.options()).unsqueeze(0).lt(out.lengths.unsqueeze(1));
  const bool padded = min_len < t;
  auto x = audio_->project_features->forward(local);
  const auto positions = audio_->relative_positional_encoder->forward(x, padded ? out.mask : torch::Tensor());
  if (stages != nullptr) *stages = {local, x, positions, {}};
  x = x + positions;

  const int64_t extra = config_.num_extra_tokens;
  torch::Tensor key_padding;
  if (padded) {
    key_padding = torch::cat({torch::zeros({b, extra}, out.mask.options()), out.mask.logical_not()}, 1);
  }
  if (extra > 0) x = torch::cat({audio_->extra_tokens.to(x.dtype()).expand({b, extra, x.size(2)}), x}, 1);
  const auto alibi = audio_->AlibiBiases(frames, config_.prenet_depth + config_.depth);

  auto& context = audio_->context_encoder;
  x = context->norm(x);
  for (int64_t i = 0; i < config_.prenet_depth; ++i) {
    x = context->blocks[i]->as<BlockImpl>()->forward(x, key_padding, alibi[i]);
    if (stages != nullptr) stages->prenet.push_back(x);
  }
  out.hidden_states.push_back(x.slice(1, extra));
  for (int64_t i = 0; i < config_.depth; ++i) {
    x = blocks_[i]->as<BlockImpl>()->forward(x, key_padding, alibi[config_.prenet_depth + i]);
    out.hidden_states.push_back(x.slice(1, extra));
  }
  return out;
}

EncoderOutput Emotion2VecEncoderImpl::Encode(const EncoderInput& input) {
  if (!input.waveform.defined()) throw DataError("emotion2vec: no waveform given");
  std::optional<torch::NoGradGuard> no_grad;
  if (freeze_ == "all") no_grad.emplace();
  return forward(input.waveform, input.lengths);
}

LoadReport Emotion2VecEncoderImpl::LoadWeights(const std::string& safetensors_path) {
  auto report = LoadStateDict(*this, safetensors_path, Emotion2VecNameMap());
  SetFreeze(freeze_);
  return report;
}

void Emotion2VecEncoderImpl::SetFreeze(const std::string& mode) {
  if (mode != "none" && mode != "feature_extractor" && mode != "all") {
    throw ConfigError("emotion2vec: freeze must be none, feature_extractor or all (got '" + mode + "')");
  }
  freeze_ = mode;
  SetRequiresGrad(*this, mode != "all");
  if (mode == "feature_extractor") SetRequiresGrad(*audio_->local_encoder, false);
}

Emotion2VecEncoder CreateEmotion2VecEncoder(const std::string& config_json, const std::string& weights,
                                            const std::string& freeze) {
  Emotion2VecEncoder encoder(config_json.empty() ? Emotion2VecConfig() : ReadEmotion2VecConfig(config_json));
  if (!weights.empty()) encoder->LoadWeights(weights);
  encoder->SetFreeze(freeze);
  return encoder;
}

}  // namespace fas
