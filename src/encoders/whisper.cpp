#include "fas/encoders/whisper.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "fas/audio/features.h"
#include "fas/core/error.h"
#include "fas/encoders/kernels.h"
#include "fas/encoders/kernels/gpu_attention.h"
#include "fas/encoders/kernels/head_parallel_attention.h"
#include "fas/encoders/kernels/onednn_linear.h"
#include "fas/io/json_value.h"

namespace fas {
namespace whisper_detail {

constexpr int kSampleRate = 16000;
constexpr int kHop = 160;

torch::Tensor Activate(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  return torch::silu(x);
}

// WhisperAttention: the key projection has no bias; queries are scaled by head_dim^-0.5.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const WhisperEncoderConfig& c)
      : k_proj(register_module("k_proj", torch::nn::Linear(torch::nn::LinearOptions(c.d_model, c.d_model).bias(false)))),
        v_proj(register_module("v_proj", torch::nn::Linear(c.d_model, c.d_model))),
        q_proj(register_module("q_proj", torch::nn::Linear(c.d_model, c.d_model))),
        out_proj(register_module("out_proj", torch::nn::Linear(c.d_model, c.d_model))),
        heads_(c.encoder_attention_heads),
        dropout_(c.attention_dropout),
        fast_(kernels::RoutesOn()) {}

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
    if (kernels::HeadParallelAttention::Applies(fast_, x)) {
      return head_parallel_({q_proj, k_proj, v_proj, out_proj, heads_}, fused_, x, {additive_mask, {}, {}});
    }
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2), d = D / heads_;
    auto split = [&](const torch::Tensor& t) { return t.view({B, T, heads_, d}).transpose(1, 2); };
    auto q = split(q_proj(x) * std::pow(static_cast<double>(d), -0.5)), k = split(k_proj(x)), v = split(v_proj(x));
    if (kernels::GpuAttention::Applies(q)) {
      const auto o = kernels::GpuAttention::Run(q, k, v, additive_mask, 1.0, is_training() ? dropout_ : 0.0);
      return out_proj(o.transpose(1, 2).reshape({B, T, D}));
    }
    auto scores = torch::matmul(q, k.transpose(-1, -2));
    if (additive_mask.defined()) scores = scores + additive_mask;
    auto probs = torch::dropout(torch::softmax(scores, -1), dropout_, is_training());
    return out_proj(torch::matmul(probs, v).transpose(1, 2).reshape({B, T, D}));
  }

  torch::nn::Linear k_proj, v_proj, q_proj, out_proj;

 private:
  int64_t heads_;
  double dropout_;
  bool fast_;
  kernels::FusedQkv fused_;
  kernels::HeadParallelAttention head_parallel_;
};
TORCH_MODULE(SelfAttention);

// WhisperEncoderLayer: pre-LN self-attention and feed-forward blocks.
class LayerImpl : public torch::nn::Module {
 public:
  explicit LayerImpl(const WhisperEncoderConfig& c)
      : self_attn(register_module("self_attn", SelfAttention(c))),
        self_attn_layer_norm(register_module("self_attn_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})))),
        fc1(register_module("fc1", torch::nn::Linear(c.d_model, c.encoder_ffn_dim))),
        fc2(register_module("fc2", torch::nn::Linear(c.encoder_ffn_dim, c.d_model))),
        final_layer_norm(register_module("final_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})))),
        act_(c.activation_function),
        dropout_(c.dropout),
        activation_dropout_(c.activation_dropout),
        fast_(kernels::RoutesOn()) {}

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
    auto h = x + torch::dropout(self_attn(self_attn_layer_norm(x), additive_mask), dropout_, is_training());
    auto f = fc1_.Forward(fast_, fc1, final_layer_norm(h), post_);
    if (post_ == kernels::PostOp::kNone) f = Activate(act_, f);
    f = torch::dropout(f, activation_dropout_, is_training());
    return h + torch::dropout(fc2_.Forward(fast_, fc2, f), dropout_, is_training());
  }

  SelfAttention self_attn;
  torch::nn::LayerNorm self_attn_layer_norm;
  torch::nn::Linear fc1, fc2;
  torch::nn::LayerNorm final_layer_norm;

 private:
  std::string act_;
  kernels::PostOp post_ = kernels::FusedActivation(act_);  // the activation inside fc1's product, if it can be
  double dropout_, activation_dropout_;
  bool fast_;
  kernels::OneDnnLinear fc1_, fc2_;
};

LogMelConfig MelConfig(const WhisperEncoderConfig& c) {
  LogMelConfig m;
  m.sample_rate = kSampleRate;
  m.n_fft = 400;
  m.hop_length = kHop;
  m.n_mels = static_cast<int>(c.num_mel_bins);
  m.log = "whisper";
  m.drop_last_frame = true;
  return m;
}

// conv2 (kernel 3, stride 2, padding 1) output frames for `mel` input frames.
torch::Tensor ConvLengths(const torch::Tensor& mel) { return torch::div(mel - 1, 2, "floor") + 1; }

// True where frame t < length[b]: [B, T].
torch::Tensor LengthMask(const torch::Tensor& lengths, int64_t T) {
  return torch::arange(T, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
}

}  // namespace whisper_detail

using namespace whisper_detail;

void WhisperEncoderConfig::Validate() const {
  auto fail = [](const std::string& m) { throw ConfigError("whisper encoder: " + m); };
  if (type != "whisper") fail("type must be whisper, got '" + type + "'");
  if (framing != "window" && framing != "variable") fail("framing must be window or variable, got '" + framing + "'");
  if (num_mel_bins <= 0) fail("num_mel_bins must be positive");
  if (d_model <= 0 || encoder_attention_heads <= 0 || d_model % encoder_attention_heads != 0) {
    fail("d_model (" + std::to_string(d_model) + ") must be a positive multiple of encoder_attention_heads (" +
         std::to_string(encoder_attention_heads) + ")");
  }
  if (d_model % 2 != 0 || d_model < 4) fail("d_model must be even and at least 4 (sinusoidal positions)");
  if (encoder_layers < 0 || encoder_ffn_dim <= 0 || max_source_positions <= 0) {
    fail("encoder_layers, encoder_ffn_dim and max_source_positions must be positive");
  }
  if (activation_function != "gelu" && activation_function != "gelu_new" &&
      activation_function != "gelu_pytorch_tanh" && activation_function != "relu" && activation_function != "silu" &&
      activation_function != "swish") {
    fail("activation_function '" + activation_function + "' is not one of gelu, gelu_new, relu, silu");
  }
  const int64_t frames = (window_samples() / kHop - 1) / 2 + 1;
  if (chunk_length <= 0 || frames > max_source_positions) {
    fail("chunk_length " + std::to_string(chunk_length) + " s must be positive and give at most max_source_positions (" +
         std::to_string(max_source_positions) + ") encoder frames of 20 ms");
  }
  for (double p : {dropout, attention_dropout, activation_dropout}) {
    if (p < 0 || p >= 1) fail("dropout probabilities must be in [0, 1)");
  }
}

int64_t WhisperEncoderConfig::window_samples() const {
  return static_cast<int64_t>(std::llround(chunk_length * kSampleRate));
}

WhisperEncoderConfig ReadHfWhisperConfig(const std::string& path) {
  using nlohmann::json;
  std::ifstream in(path);
  if (!in) throw IoError("cannot read HuggingFace config " + path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw IoError(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw ConfigError(path + ": a HuggingFace config must be a JSON object");
  const auto type = j.find("model_type");
  if (type == j.end() || !type->is_string() || type->get<std::string>() != "whisper") {
    throw ConfigError(path + ": model_type is not whisper");
  }
  // HuggingFace's WhisperConfig defaults, overridden by the file.
  WhisperEncoderConfig c;
  c.num_mel_bins = 80;
  c.d_model = 384;
  c.encoder_layers = 4;
  c.encoder_attention_heads = 6;
  c.encoder_ffn_dim = 1536;
  c.max_source_positions = 1500;
  ReadJsonField(j, "num_mel_bins", c.num_mel_bins, path);
  ReadJsonField(j, "d_model", c.d_model, path);
  ReadJsonField(j, "encoder_layers", c.encoder_layers, path);
  ReadJsonField(j, "encoder_attention_heads", c.encoder_attention_heads, path);
  ReadJsonField(j, "encoder_ffn_dim", c.encoder_ffn_dim, path);
  ReadJsonField(j, "max_source_positions", c.max_source_positions, path);
  ReadJsonField(j, "activation_function", c.activation_function, path);
  ReadJsonField(j, "dropout", c.dropout, path);
  ReadJsonField(j, "attention_dropout", c.attention_dropout, path);
  ReadJsonField(j, "activation_dropout", c.activation_dropout, path);
  // The released models see exactly max_source_positions * 2 mel frames (30 s for 1500).
  c.chunk_length = static_cast<double>(c.max_source_positions) * 2 * kHop / kSampleRate;  // no overflow
  return c;
}

WhisperEncoderConfig ResolveWhisperConfig(const WhisperEncoderConfig& config) {
  if (config.hf_config.empty()) return config;
  WhisperEncoderConfig c = ReadHfWhisperConfig(config.hf_config);
  c.hf_config = config.hf_config;
  c.weights = config.weights;
  c.freeze = config.freeze;
  c.framing = config.framing;
  return c;
}

const NameMap& WhisperNameMap() {
  static const NameMap map{/*strip_prefixes=*/{"model.encoder.", "encoder."},
                           /*aliases=*/{},
                           /*skip=*/{"model.decoder.*", "decoder.*", "proj_out.*"},
                           /*optional=*/{}};
  return map;
}

torch::Tensor WhisperSinusoids(int64_t length, int64_t channels) {
  const int64_t half = channels / 2;
  const double increment = std::log(10000.0) / static_cast<double>(half - 1);
  auto inv = torch::exp(-increment * torch::arange(half, torch::kFloat64));
  auto scaled = torch::arange(length, torch::kFloat64).unsqueeze(1) * inv.unsqueeze(0);
  return torch::cat({torch::sin(scaled), torch::cos(scaled)}, 1).to(torch::kFloat32);
}

WhisperEncoderImpl::WhisperEncoderImpl(const WhisperEncoderConfig& config) : config_(config) {
  config_.Validate();
  const int64_t D = config_.d_model;
  conv1 = register_module("conv1", torch::nn::Conv1d(torch::nn::Conv1dOptions(config_.num_mel_bins, D, 3).padding(1)));
  conv2 = register_module("conv2", torch::nn::Conv1d(torch::nn::Conv1dOptions(D, D, 3).stride(2).padding(1)));
  embed_positions = register_module("embed_positions", torch::nn::Embedding(config_.max_source_positions, D));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.encoder_layers; ++i) layers->push_back(std::make_shared<LayerImpl>(config_));
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D})));
  // As HuggingFace: fixed sinusoidal positions, never trained.
  torch::NoGradGuard no_grad;
  embed_positions->weight.copy_(WhisperSinusoids(config_.max_source_positions, D));
  embed_positions->weight.set_requires_grad(false);
}

std::pair<torch::Tensor, torch::Tensor> WhisperEncoderImpl::Features(const torch::Tensor& waveform_in,
                                                                     const torch::Tensor& lengths_in) const {
  if (!waveform_in.defined() || waveform_in.dim() != 2) {
    throw DataError("whisper encoder: waveform must be a [batch, samples] tensor");
  }
  // The log-mel is computed where the encoder's weights are (cuFFT on a GPU): a CPU STFT of a batch of 30 s
  // windows would cost more than a GPU's encoder forward.
  auto waveform = waveform_in.to(conv1->weight.device(), torch::kFloat32);
  const auto on_device = torch::TensorOptions().dtype(torch::kFloat32).device(waveform.device());
  const int64_t B = waveform.size(0), T = waveform.size(1);
  auto lengths = lengths_in.defined() ? lengths_in.to(torch::kCPU, torch::kInt64)
                                      : torch::full({B}, T, torch::kInt64);
  if (lengths.dim() != 1 || lengths.size(0) != B) throw DataError("whisper encoder: lengths must be [batch]");
  if (B > 0 && (lengths.min().item<int64_t>() < 1 || lengths.max().item<int64_t>() > T)) {
    throw DataError("whisper encoder: lengths must be in [1, " + std::to_string(T) + "]");
  }
  const LogMelConfig mel = MelConfig(config_);
  if (config_.framing == "window") {
    // As HuggingFace's feature extractor: zeros after each utterance, the whole window through the log-mel
    // (its `max - 8` floor taken over the window).
    const int64_t W = config_.window_samples();
    auto padded = torch::zeros({B, W}, on_device);
    auto frames = torch::empty({B}, torch::kInt64);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = std::min(lengths[b].item<int64_t>(), W);
      padded[b].slice(0, 0, n).copy_(waveform[b].slice(0, 0, n));
      frames[b] = NumLogMelFrames(n, mel);
    }
    return {LogMelSpectrogram(padded, mel), frames};
  }
  std::vector<torch::Tensor> feats;
  auto frames = torch::empty({B}, torch::kInt64);
  int64_t longest = 0;
  for (int64_t b = 0; b < B; ++b) {
    feats.push_back(LogMelSpectrogram(waveform[b].slice(0, 0, lengths[b].item<int64_t>()), mel));
    frames[b] = feats.back().size(1);
    longest = std::max(longest, feats.back().size(1));
  }
  auto out = torch::zeros({B, config_.num_mel_bins, longest}, on_device);
  for (int64_t b = 0; b < B; ++b) out[b].slice(1, 0, feats[b].size(1)).copy_(feats[b]);
  return {out, frames};
}

EncoderOutput WhisperEncoderImpl::Encode(const EncoderInput& input) { return forward(input.waveform, input.lengths); }

int64_t WhisperEncoderImpl::max_window_samples() const {
  return config_.framing == "window" ? config_.window_samples() : config_.max_source_positions * 2 * kHop;
}

EncoderOutput WhisperEncoderImpl::forward(const torch::Tensor& waveform, const torch::Tensor& lengths) {
  if (waveform.defined() && waveform.dim() == 2 && waveform.size(1) > max_window_samples()) {
    const int64_t longest = lengths.defined() ? lengths.max().item<int64_t>() : waveform.size(1);
    if (longest > max_window_samples()) return ForwardWindows(waveform, lengths);
  }
  auto [features, frames] = Features(waveform, lengths);
  return ForwardFeatures(features, frames);
}

EncoderOutput WhisperEncoderImpl::ForwardWindows(const torch::Tensor& waveform_in, const torch::Tensor& lengths_in) {
  const auto waveform = waveform_in.to(torch::kCPU, torch::kFloat32);
  const int64_t B = waveform.size(0), T = waveform.size(1), W = max_window_samples();
  const auto lengths = lengths_in.defined() ? lengths_in.to(torch::kCPU, torch::kInt64) : torch::full({B}, T, torch::kInt64);
  if (lengths.dim() != 1 || lengths.size(0) != B || lengths.min().item<int64_t>() < 1 ||
      lengths.max().item<int64_t>() > T) {
    throw DataError("whisper encoder: lengths must be [batch] values in [1, " + std::to_string(T) + "]");
  }
  std::vector<int64_t> owner, window_lengths;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t start = 0; start < lengths[b].item<int64_t>(); start += W) {
      owner.push_back(b);
      window_lengths.push_back(std::min(W, lengths[b].item<int64_t>() - start));
    }
  }
  const int64_t N = static_cast<int64_t>(owner.size());
  auto windows = torch::zeros({N, W}, torch::kFloat32);
  for (int64_t n = 0, start = 0; n < N; ++n) {
    start = n > 0 && owner[n] == owner[n - 1] ? start + W : 0;
    windows[n].slice(0, 0, window_lengths[n]).copy_(waveform[owner[n]].slice(0, start, start + window_lengths[n]));
  }
  const EncoderOutput pieces = forward(windows, torch::tensor(window_lengths, torch::kInt64));

  const auto piece_frames = pieces.lengths.to(torch::kCPU);
  std::vector<int64_t> frames(static_cast<size_t>(B), 0);
  for (int64_t n = 0; n < N; ++n) frames[static_cast<size_t>(owner[n])] += piece_frames[n].item<int64_t>();
  const int64_t longest = *std::max_element(frames.begin(), frames.end());
  const auto device = pieces.last_hidden_state().device();
  EncoderOutput out;
  for (const auto& h : pieces.hidden_states) {
    auto joined = torch::zeros({B, longest, h.size(2)}, h.options());
    std::vector<int64_t> at(static_cast<size_t>(B), 0);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t f = piece_frames[n].item<int64_t>();
      joined[owner[n]].slice(0, at[static_cast<size_t>(owner[n])], at[static_cast<size_t>(owner[n])] + f)
          .copy_(h[n].slice(0, 0, f));
      at[static_cast<size_t>(owner[n])] += f;
    }
    out.hidden_states.push_back(joined);
  }
  out.lengths = torch::tensor(frames, torch::kInt64).to(device);
  out.mask = LengthMask(out.lengths, longest);
  return out;
}

EncoderOutput WhisperEncoderImpl::ForwardFeatures(const torch::Tensor& features_in, const torch::Tensor& frames_in) {
  if (features_in.dim() != 3 || features_in.size(1) != config_.num_mel_bins) {
    throw DataError("whisper encoder: features must be [batch, " + std::to_string(config_.num_mel_bins) +
                    ", frames]");
  }
  const auto device = conv1->weight.device();
  auto features = features_in.to(device, conv1->weight.scalar_type());
  const int64_t B = features.size(0), F = features.size(2);
  auto frames = frames_in.defined() ? frames_in.to(device, torch::kInt64) : torch::full({B}, F, torch::kInt64).to(device);
  const bool window = config_.framing == "window";

  torch::Tensor mel_mask;
  if (!window) {
    mel_mask = LengthMask(frames, F).unsqueeze(1).to(features.scalar_type());
    features = features * mel_mask;
  }
  auto x = torch::gelu(conv1(features));
  if (!window) x = x * mel_mask;  // so conv2 sees zeros past the end, as a lone utterance would
  x = torch::gelu(conv2(x)).transpose(1, 2);
  const int64_t T = x.size(1);
  if (T > config_.max_source_positions) {
    throw DataError("whisper encoder: " + std::to_string(T) + " frames exceed max_source_positions " +
                    std::to_string(config_.max_source_positions) + " (" +
                    std::to_string(config_.max_source_positions / 50) + " s); cut the audio or use window framing");
  }
  x = torch::dropout(x + embed_positions->weight.slice(0, 0, T), config_.dropout, is_training());

  auto enc_lengths = torch::clamp(ConvLengths(frames), 0, T);
  auto mask = LengthMask(enc_lengths, T);
  torch::Tensor additive;
  if (!window) {
    // In float32 even under autocast: the lowest float is the padding value, and bf16 has no room for it.
    additive = (~mask).to(torch::kFloat32).mul(std::numeric_limits<float>::lowest()).unsqueeze(1).unsqueeze(2);
  }
  EncoderOutput out;
  for (const auto& layer : *layers) {
    out.hidden_states.push_back(x);
    x = layer->as<LayerImpl>()->forward(x, additive);
  }
  out.hidden_states.push_back(layer_norm(x));
  out.mask = mask;
  out.lengths = enc_lengths;
  return out;
}

LoadReport WhisperEncoderImpl::LoadWeights(const std::string& safetensors_path) {
  auto report = LoadStateDict(*this, safetensors_path, WhisperNameMap());
  embed_positions->weight.set_requires_grad(false);
  return report;
}

WhisperEncoder CreateWhisperEncoder(const WhisperEncoderConfig& config) {
  return BuildEncoder<WhisperEncoder>(ResolveWhisperConfig(config));
}

}  // namespace fas
