// MingTok-Audio's encoder, computing what the published vae_modules.Encoder (over transformers' Qwen2Model) and
// AudioVAE.encode_latent compute, module for module; registered names are the published checkpoint's.
#include "fas/encoders/mingtok_audio.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "fas/core/error.h"
#include "fas/encoders/kernels.h"
#include "fas/encoders/kernels/gpu_attention.h"
#include "fas/encoders/kernels/onednn_linear.h"
#include "fas/io/json_value.h"

namespace fas {
namespace mingtok_detail {

torch::Tensor Activation(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "relu") return torch::relu(x);
  return torch::silu(x);
}

// Qwen2RMSNorm: normalised in float32, scaled by the weight in the input's type.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t size, double eps) : weight(register_parameter("weight", torch::ones({size}))), eps_(eps) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const auto h = x.to(torch::kFloat32);
    return weight * (h * torch::rsqrt(h.pow(2).mean(-1, true) + eps_)).to(x.scalar_type());
  }
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// The rotary tables of Qwen2RotaryEmbedding (default rope) for positions 0 .. T-1: cos, sin [T, head_dim].
std::pair<torch::Tensor, torch::Tensor> Rotary(int64_t T, int64_t head_dim, double theta, const torch::Device& device) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const auto inv_freq = 1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, opts) / static_cast<double>(head_dim));
  const auto freqs = torch::arange(T, opts).unsqueeze(1) * inv_freq.unsqueeze(0);
  const auto emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// Which keys a query may see, [T, T] bool: every earlier frame, or the last `window` of them.
torch::Tensor CausalMask(int64_t T, int64_t window, const torch::Device& device) {
  const auto pos = torch::arange(T, torch::TensorOptions().dtype(torch::kInt64).device(device));
  const auto distance = pos.unsqueeze(1) - pos.unsqueeze(0);  // query - key
  auto allowed = distance >= 0;
  if (window > 0) allowed = allowed & (distance < window);
  return allowed;
}

// Qwen2Attention: biased q/k/v, unbiased output; num_attention_heads queries share num_key_value_heads keys.
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const MingTokAudioConfig& c)
      : q_proj(register_module("q_proj", torch::nn::Linear(c.hidden_size, c.num_attention_heads * c.HeadDim()))),
        k_proj(register_module("k_proj", torch::nn::Linear(c.hidden_size, c.num_key_value_heads * c.HeadDim()))),
        v_proj(register_module("v_proj", torch::nn::Linear(c.hidden_size, c.num_key_value_heads * c.HeadDim()))),
        o_proj(register_module(
            "o_proj", torch::nn::Linear(
                          torch::nn::LinearOptions(c.num_attention_heads * c.HeadDim(), c.hidden_size).bias(false)))),
        heads_(c.num_attention_heads),
        kv_heads_(c.num_key_value_heads),
        head_dim_(c.HeadDim()),
        dropout_(c.attention_dropout) {}

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed) {
    const int64_t B = x.size(0), T = x.size(1);
    auto split = [&](const torch::Tensor& t, int64_t heads) {
      return t.view({B, T, heads, head_dim_}).transpose(1, 2);
    };
    auto q = split(q_.Forward(fast_, q_proj, x), heads_), k = split(k_.Forward(fast_, k_proj, x), kv_heads_),
         v = split(v_.Forward(fast_, v_proj, x), kv_heads_);
    q = q * cos + RotateHalf(q) * sin;
    k = k * cos + RotateHalf(k) * sin;
    // Key/value head j serves query heads j * groups .. (j + 1) * groups - 1 (transformers' repeat_kv).
    const int64_t groups = heads_ / kv_heads_;
    k = k.repeat_interleave(groups, 1);
    v = v.repeat_interleave(groups, 1);
    if (kernels::GpuAttention::Applies(q)) {
      const auto o = kernels::GpuAttention::Run(q, k, v, allowed, 1.0 / std::sqrt(static_cast<double>(head_dim_)),
                                                is_training() ? dropout_ : 0.0);
      return o_proj(o.transpose(1, 2).reshape({B, T, heads_ * head_dim_}));
    }
    auto scores = torch::matmul(q, k.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(head_dim_)));
    scores = scores.masked_fill(~allowed, -std::numeric_limits<float>::infinity());
    auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
    probs = torch::dropout(probs, dropout_, is_training());
    return o_.Forward(fast_, o_proj, torch::matmul(probs, v).transpose(1, 2).reshape({B, T, heads_ * head_dim_}));
  }

  torch::nn::Linear q_proj, k_proj, v_proj, o_proj;

 private:
  int64_t heads_, kv_heads_, head_dim_;
  double dropout_;
  bool fast_ = kernels::RoutesOn();
  kernels::OneDnnLinear q_, k_, v_, o_;
};
TORCH_MODULE(Attention);

// Qwen2MLP: down(act(gate(x)) * up(x)), no biases.
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const MingTokAudioConfig& c)
      : gate_proj(register_module("gate_proj", Unbiased(c.hidden_size, c.intermediate_size))),
        up_proj(register_module("up_proj", Unbiased(c.hidden_size, c.intermediate_size))),
        down_proj(register_module("down_proj", Unbiased(c.intermediate_size, c.hidden_size))),
        act_(c.hidden_act) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return down_.Forward(fast_, down_proj, Activation(act_, gate_.Forward(fast_, gate_proj, x)) *
                                               up_.Forward(fast_, up_proj, x));
  }
  torch::nn::Linear gate_proj, up_proj, down_proj;

 private:
  bool fast_ = kernels::RoutesOn();
  kernels::OneDnnLinear gate_, up_, down_;
  static torch::nn::Linear Unbiased(int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  }
  std::string act_;
};
TORCH_MODULE(Mlp);

// Qwen2DecoderLayer: pre-RMSNorm attention and MLP blocks.
class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const MingTokAudioConfig& c, int64_t index)
      : self_attn(register_module("self_attn", Attention(c))),
        mlp(register_module("mlp", Mlp(c))),
        input_layernorm(register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps))),
        post_attention_layernorm(register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps))),
        window_(c.SlidingLayer(index) ? c.sliding_window : 0) {}

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
    const auto allowed = CausalMask(x.size(1), window_, x.device());
    const auto h = x + self_attn(input_layernorm(x), cos, sin, allowed);
    return h + mlp(post_attention_layernorm(h));
  }

  Attention self_attn;
  Mlp mlp;
  RMSNorm input_layernorm, post_attention_layernorm;

 private:
  int64_t window_;
};
TORCH_MODULE(DecoderLayer);

// Qwen2Model over inputs_embeds (its token embedding is never built). Returns transformers 4.x's hidden states:
// the input, every layer's output, the last one after the final RMSNorm.
class Qwen2ModelImpl : public torch::nn::Module {
 public:
  explicit Qwen2ModelImpl(const MingTokAudioConfig& c)
      : layers(register_module("layers", torch::nn::ModuleList())),
        norm(register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps))),
        head_dim_(c.HeadDim()),
        theta_(c.rope_theta) {
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c, i));
  }

  std::vector<torch::Tensor> forward(const torch::Tensor& inputs_embeds) {
    auto [cos, sin] = Rotary(inputs_embeds.size(1), head_dim_, theta_, inputs_embeds.device());
    cos = cos.to(inputs_embeds.scalar_type());
    sin = sin.to(inputs_embeds.scalar_type());
    std::vector<torch::Tensor> states;
    torch::Tensor x = inputs_embeds;
    for (const auto& layer : *layers) {
      states.push_back(x);
      x = layer->as<DecoderLayerImpl>()->forward(x, cos, sin);
    }
    states.push_back(norm(x));
    return states;
  }

  torch::nn::ModuleList layers;
  RMSNorm norm;

 private:
  int64_t head_dim_;
  double theta_;
};

}  // namespace mingtok_detail

using namespace mingtok_detail;

void MingTokAudioConfig::Validate() const {
  auto fail = [](const std::string& m) { throw ConfigError("mingtok_audio encoder: " + m); };
  if (features != "latent" && features != "hidden_states") {
    fail("features must be latent or hidden_states, got '" + features + "'");
  }
  if (latent != "mean" && latent != "sample") fail("latent must be mean or sample, got '" + latent + "'");
  if (input_dim <= 0 || hop_size <= 0 || latent_dim <= 0) fail("input_dim, hop_size and latent_dim must be positive");
  if (hidden_size <= 0 || intermediate_size <= 0 || num_hidden_layers < 0 || num_attention_heads <= 0 ||
      num_key_value_heads <= 0 || head_dim < 0) {
    fail("hidden_size, intermediate_size, num_attention_heads and num_key_value_heads must be positive");
  }
  if (num_attention_heads % num_key_value_heads != 0) {
    fail("num_attention_heads (" + std::to_string(num_attention_heads) + ") must be a multiple of " +
         "num_key_value_heads (" + std::to_string(num_key_value_heads) + ")");
  }
  if (head_dim == 0 && hidden_size % num_attention_heads != 0) {
    fail("hidden_size (" + std::to_string(hidden_size) + ") must be divisible by num_attention_heads (" +
         std::to_string(num_attention_heads) + "), or head_dim given");
  }
  if (HeadDim() % 2 != 0) fail("the head dimension (" + std::to_string(HeadDim()) + ") must be even (rotary)");
  if (hidden_act != "silu" && hidden_act != "gelu" && hidden_act != "relu") {
    fail("hidden_act '" + hidden_act + "' is not one of silu, gelu, relu");
  }
  if (rms_norm_eps <= 0 || rope_theta <= 0) fail("rms_norm_eps and rope_theta must be positive");
  if (use_sliding_window && sliding_window <= 0) fail("sliding_window must be positive with use_sliding_window");
  if (attention_dropout < 0 || attention_dropout >= 1) fail("attention_dropout must be in [0, 1)");
}

MingTokAudioConfig ReadMingTokAudioConfig(const std::string& path) {
  using nlohmann::json;
  std::ifstream in(path);
  if (!in) throw IoError("cannot read MingTok-Audio config " + path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw IoError(path + ": not valid JSON (" + e.what() + ")");
  }
  const auto enc = j.is_object() ? j.find("enc_kwargs") : j.end();
  if (enc == j.end() || !enc->is_object() || !enc->contains("backbone") || !(*enc)["backbone"].is_object()) {
    throw ConfigError(path + ": no enc_kwargs.backbone object: not a MingTok-Audio (AudioVAE) config.json");
  }
  for (const char* key : {"input_dim", "latent_dim"}) {
    if (!enc->contains(key))
      throw ConfigError(path + ": enc_kwargs has no '" + key + "' (the published code needs it)");
  }
  const json& b = (*enc)["backbone"];
  // Qwen2Config's defaults, overridden by the file.
  MingTokAudioConfig c;
  c.hidden_size = 4096;
  c.intermediate_size = 22016;
  c.num_hidden_layers = 32;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 0;
  ReadJsonField(*enc, "input_dim", c.input_dim, path);
  ReadJsonField(*enc, "hop_size", c.hop_size, path);
  ReadJsonField(*enc, "latent_dim", c.latent_dim, path);
  ReadJsonField(b, "hidden_size", c.hidden_size, path);
  ReadJsonField(b, "intermediate_size", c.intermediate_size, path);
  ReadJsonField(b, "num_hidden_layers", c.num_hidden_layers, path);
  ReadJsonField(b, "num_attention_heads", c.num_attention_heads, path);
  ReadJsonField(b, "num_key_value_heads", c.num_key_value_heads, path);
  if (c.num_key_value_heads == 0) c.num_key_value_heads = c.num_attention_heads;
  ReadJsonField(b, "head_dim", c.head_dim, path);
  ReadJsonField(b, "hidden_act", c.hidden_act, path);
  ReadJsonField(b, "rms_norm_eps", c.rms_norm_eps, path);
  ReadJsonField(b, "rope_theta", c.rope_theta, path);
  ReadJsonField(b, "use_sliding_window", c.use_sliding_window, path);
  ReadJsonField(b, "sliding_window", c.sliding_window, path);
  ReadJsonField(b, "max_window_layers", c.max_window_layers, path);
  ReadJsonField(b, "attention_dropout", c.attention_dropout, path);
  if (c.use_sliding_window && b.contains("sliding_window") && b["sliding_window"].is_null())
    c.use_sliding_window = false;
  // transformers 4.x writes rope_theta and rope_scaling, 5.x rope_parameters; only the default rope is the model.
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    const auto rope = b.find(key);
    if (rope == b.end() || rope->is_null()) continue;
    std::string type = "default";
    ReadJsonField(*rope, "rope_type", type, path);
    ReadJsonField(*rope, "type", type, path);
    if (type != "default") {
      throw ConfigError(path + ": enc_kwargs.backbone." + key + " type '" + type + "' is not supported (default only)");
    }
    ReadJsonField(*rope, "rope_theta", c.rope_theta, path);
  }
  if (b.contains("layer_types") && !b["layer_types"].is_null()) {
    const auto types = JsonAs<std::vector<std::string>>(b["layer_types"], path + ": enc_kwargs.backbone.layer_types");
    bool same = static_cast<int64_t>(types.size()) == c.num_hidden_layers;
    for (size_t i = 0; same && i < types.size(); ++i) {
      same = types[i] == (c.SlidingLayer(static_cast<int64_t>(i)) ? "sliding_attention" : "full_attention");
    }
    if (!same) {
      throw ConfigError(path +
                        ": enc_kwargs.backbone.layer_types is not what use_sliding_window and "
                        "max_window_layers give; such a layout is not supported");
    }
  }
  try {
    c.Validate();
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
  return c;
}

MingTokAudioConfig ResolveMingTokAudioConfig(const MingTokAudioConfig& config) {
  if (config.hf_config.empty()) return config;
  MingTokAudioConfig c = ReadMingTokAudioConfig(config.hf_config);
  c.hf_config = config.hf_config;
  c.weights = config.weights;
  c.freeze = config.freeze;
  c.features = config.features;
  c.latent = config.latent;
  return c;
}

const NameMap& MingTokAudioNameMap() {
  static const NameMap map{
      /*strip_prefixes=*/{"encoder."},
      /*aliases=*/{},
      // The decoder and semantic module (not the encoder path); Qwen2Model's token embedding (the encoder feeds
      // inputs_embeds); the Encoder's LayerNorm, which its forward never calls.
      /*skip=*/{"decoder.*", "encoder.encoder.embed_tokens.weight", "encoder.norm.weight", "encoder.norm.bias"},
      /*optional=*/{}};
  return map;
}

MingTokAudioEncoderImpl::MingTokAudioEncoderImpl(const MingTokAudioConfig& config) : config_(config) {
  config_.Validate();
  const int64_t H = config_.hidden_size;
  fc1 = register_module("fc1", torch::nn::Linear(torch::nn::LinearOptions(config_.input_dim, H).bias(false)));
  fc2 = register_module("fc2", torch::nn::Linear(H, H));
  encoder_ = register_module("encoder", std::make_shared<Qwen2ModelImpl>(config_));
  fc3 = register_module("fc3", torch::nn::Linear(H, 2 * config_.latent_dim));
}

int64_t MingTokAudioEncoderImpl::hidden_size() const {
  return config_.features == "latent" ? config_.latent_dim : config_.hidden_size;
}

int64_t MingTokAudioEncoderImpl::num_layers() const {
  return config_.features == "latent" ? 0 : config_.num_hidden_layers;
}

torch::Tensor MingTokAudioEncoderImpl::Frames(const torch::Tensor& waveform) const {
  const int64_t T = waveform.size(-1), hop = config_.hop_size;
  const int64_t frames = (T + hop - 1) / hop;
  const int64_t padded = (frames - 1) * hop + config_.input_dim;
  return torch::constant_pad_nd(waveform, {0, padded - T}).unfold(-1, config_.input_dim, hop);
}

MingTokAudioOutput MingTokAudioEncoderImpl::forward(const torch::Tensor& waveform_in, const torch::Tensor& lengths_in) {
  if (!waveform_in.defined() || waveform_in.dim() != 2 || waveform_in.size(1) == 0) {
    throw DataError("mingtok_audio encoder: waveform must be a non-empty [batch, samples] tensor");
  }
  const auto device = fc1->weight.device();
  const int64_t B = waveform_in.size(0), T = waveform_in.size(1);
  auto lengths = lengths_in.defined() ? lengths_in.to(device, torch::kInt64)
                                      : torch::full({B}, T, torch::TensorOptions().dtype(torch::kInt64).device(device));
  if (lengths.dim() != 1 || lengths.size(0) != B) throw DataError("mingtok_audio encoder: lengths must be [batch]");
  if (B > 0 && (lengths.min().item<int64_t>() < 1 || lengths.max().item<int64_t>() > T)) {
    throw DataError("mingtok_audio encoder: lengths must be in [1, " + std::to_string(T) + "]");
  }
  const auto samples = torch::arange(T, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
  const auto waveform = waveform_in.to(device, fc1->weight.scalar_type()) * samples.to(fc1->weight.scalar_type());

  MingTokAudioOutput out;
  out.hidden_states = encoder_->forward(fc2(fc1(Frames(waveform))));
  out.posterior = fc3(out.hidden_states.back());
  const int64_t d = config_.latent_dim;
  out.mean = out.posterior.narrow(-1, 0, d);
  out.std = torch::softplus(out.posterior.narrow(-1, d, d)) + 1e-4;
  out.lengths = torch::div(lengths + config_.hop_size - 1, config_.hop_size, "floor");
  out.mask = torch::arange(out.posterior.size(1), lengths.options()).unsqueeze(0) < out.lengths.unsqueeze(1);
  return out;
}

EncoderOutput MingTokAudioEncoderImpl::Encode(const EncoderInput& input) {
  MingTokAudioOutput o = forward(input.waveform, input.lengths);
  EncoderOutput out;
  out.lengths = o.lengths;
  out.mask = o.mask;
  if (config_.features == "hidden_states") {
    out.hidden_states = std::move(o.hidden_states);
  } else {
    out.hidden_states = {config_.latent == "sample" ? o.mean + o.std * torch::randn_like(o.std) : o.mean};
  }
  return out;
}

LoadReport MingTokAudioEncoderImpl::LoadWeights(const std::string& safetensors_path) {
  return LoadStateDict(*this, safetensors_path, MingTokAudioNameMap());
}

MingTokAudioEncoder CreateMingTokAudioEncoder(const MingTokAudioConfig& config) {
  return BuildEncoder<MingTokAudioEncoder>(ResolveMingTokAudioConfig(config));
}

}  // namespace fas
