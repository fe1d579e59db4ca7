// The wav2vec2 / HuBERT / WavLM modules. Semantics follow HuggingFace's modeling_wav2vec2.py, modeling_hubert.py
// and modeling_wavlm.py; names of registered submodules and parameters are theirs.
#include "fas/encoders/wav2vec2.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cmath>
#include <limits>
#include <optional>

#include "fas/audio/features.h"
#include "fas/core/error.h"

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

// A tensor derived from parameters (a folded weight norm, a fused QKV matrix), recomputed only when one of its
// sources changed (an optimiser step or a load bumps the version; .to() changes the storage). Used under
// InferenceMode only, so training always sees the live parameters.
class DerivedCache {
 public:
  template <class F>
  const torch::Tensor& Get(const std::vector<torch::Tensor>& sources, F compute) {
    std::vector<std::pair<const void*, int64_t>> key;
    for (const auto& s : sources) key.emplace_back(s.data_ptr(), static_cast<int64_t>(s._version()));
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

// ATen's linear: for 2-D and contiguous 3-D input one addmm with the bias folded in. torch::nn::Linear's forward
// in LibTorch 1.13 (nn::functional::linear) runs a matmul and then a separate add_ of the bias over the output.
torch::Tensor Linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return torch::linear(x, layer->weight, layer->bias);
}

// Whether the oneDNN routes apply (PackedLinear and its column layout, which keep weights in oneDNN's own layout,
// derived once): inference only, float32 on the CPU.
bool OneDnnInference(const torch::Tensor& x) {
  return c10::InferenceMode::is_enabled() && at::hasMKLDNN() && x.device().is_cpu() &&
         x.scalar_type() == torch::kFloat32;
}

// y = x W^T + b for x [..., in], as Linear. Under InferenceMode, for few rows (one utterance of a few seconds),
// the product runs instead as oneDNN's 1x1 convolution over [1, in, 1, rows] ("columns": one column a row of x)
// with the weight reordered once into oneDNN's blocked layout and cached. OpenBLAS repacks the whole weight matrix
// on every call, which dominates when 49 rows meet a 768 x 3072 matrix fresh from memory: the 48 transformer
// products of wav2vec2-base at 49 rows took 125 -> 95 ms at one thread this way; at 400-500 rows OpenBLAS was
// 4-8 % faster, the two even at about 200. Callers that chain products (attention, feed-forward) stay in columns
// between them instead of transposing back to rows each time.
class PackedLinear {
 public:
  static constexpr int64_t kMaxRows = 160;

  // Whether the oneDNN path runs for x [..., in].
  static bool Applies(const torch::Tensor& x) {
    const int64_t rows = x.numel() / std::max<int64_t>(x.size(-1), 1);
    return rows > 0 && rows <= kMaxRows && OneDnnInference(x);
  }
  // x [..., in] -> oneDNN tensor [1, in, 1, rows].
  static torch::Tensor ToColumns(const torch::Tensor& x) {
    const int64_t in = x.size(-1), rows = x.numel() / in;
    return x.reshape({rows, in}).t().contiguous().view({1, in, 1, rows}).to_mkldnn();
  }
  // [1, out, 1, rows] (dense or oneDNN) -> [..., out] with the leading sizes of `like`: a transposed view.
  static torch::Tensor FromColumns(const torch::Tensor& y, const torch::Tensor& like) {
    auto dense = y.is_mkldnn() ? y.to_dense() : y;
    auto sizes = like.sizes().vec();
    sizes.back() = dense.size(1);
    return dense.view({dense.size(1), dense.size(3)}).t().view(sizes);
  }

  // columns [1, in, 1, rows] -> [1, out, 1, rows]; oneDNN in, oneDNN out. `sources`: the parameters `weight`
  // derives from (the packed copy is rebuilt when one of them changes).
  torch::Tensor Columns(const torch::Tensor& columns, const torch::Tensor& weight, const torch::Tensor& bias,
                        const std::vector<torch::Tensor>& sources) {
    const auto& packed = packed_.Get(sources, [&] {
      return at::mkldnn_reorder_conv2d_weight(weight.reshape({weight.size(0), weight.size(1), 1, 1}).to_mkldnn(),
                                              {0, 0}, {1, 1}, {1, 1}, 1);
    });
    return at::mkldnn_convolution(columns, packed, bias, {0, 0}, {1, 1}, {1, 1}, 1);
  }
  torch::Tensor Columns(const torch::nn::Linear& layer, const torch::Tensor& columns) {
    return Columns(columns, layer->weight, layer->bias, {layer->weight});
  }

  torch::Tensor operator()(const torch::nn::Linear& layer, const torch::Tensor& x) {
    if (!Applies(x)) return Linear(layer, x);
    return FromColumns(Columns(layer, ToColumns(x)), x).contiguous();
  }

 private:
  DerivedCache packed_;
};

// A strided, unpadded conv1d over one time-major utterance x [T, Cin] (contiguous) into out [T', Cout], as
// ceil(kernel / stride) matrix products without an im2col copy: x viewed as rows of `stride` consecutive frames is
// a matrix whose row t holds the input of taps stride*q .. stride*q + stride - 1 of output frame t - q, so each
// group of `stride` taps is one product of a strided view (read in place by BLAS through its leading dimension)
// with the matching rows of `taps`, the weight as [kernel * Cin, Cout] with rows ordered (tap, channel). For
// wav2vec2's front end this runs each layer at the speed of a plain matrix product, with no activation reordered
// into and out of oneDNN's blocked layout (layers 1-6 at 10 s of audio, 2 threads: 237 ms against oneDNN's 251),
// and the output is time-major, as the transformer wants it.
// out = rows w, plus bias when it is defined (one GEMM either way: addmm copies the bias into out first).
void ProductInto(torch::Tensor& out, const torch::Tensor& bias, const torch::Tensor& rows, const torch::Tensor& w) {
  if (bias.defined()) {
    torch::addmm_out(out, bias, rows, w);
  } else {
    torch::mm_out(out, rows, w);
  }
}

void StridedConvRows(const torch::Tensor& x, const torch::Tensor& taps, const torch::Tensor& bias, int64_t kernel,
                     int64_t stride, torch::Tensor out) {
  const int64_t c = x.size(1), frames = out.size(0);
  for (int64_t q = 0; q * stride < kernel; ++q) {
    const int64_t width = std::min(stride, kernel - q * stride) * c;
    auto rows = x.as_strided({frames, width}, {stride * c, 1}, x.storage_offset() + q * stride * c);
    auto w = taps.narrow(0, q * stride * c, width);
    if (q > 0) {
      out.addmm_(rows, w);
    } else {
      ProductInto(out, bias, rows, w);
    }
  }
}

int64_t ConvFrames(int64_t samples, int64_t kernel, int64_t stride) { return (samples - kernel) / stride + 1; }

// A 3-tap, stride-2 conv (wav2vec2's layers 1-4: most of the front end's arithmetic) over one time-major utterance,
// with 5 matrix products for every 2 output frames instead of 6: Winograd's minimal filtering F(2, 2) on the even
// taps. With d_j = x[4u + 2j], frames 2u and 2u + 1 take W0 d0 + W2 d1 and W0 d1 + W2 d2; F(2, 2) forms both from
// three products, m1 = W0 (d0 - d1), m2 = (W0 + W2) d1 and m3 = W2 (d2 - d1), as m1 + m2 and m2 + m3. The
// transform's coefficients are +-1, but d0 - d1, W0 + W2 and m2 are each rounded once more than a direct conv's
// terms: harmless in float32 (parity fixtures within 1e-5), not meant for bf16. The odd tap, W1 x[2t + 1], is one
// product over every frame.
// `even_sum` is (W0 + W2) as [Cin, Cout]. Layer 1 at 10 s of audio, 2 threads: 133 -> 119 ms; at 1 s 16.0 -> 14.9.
void Winograd3x2Rows(const torch::Tensor& x, const torch::Tensor& taps, const torch::Tensor& even_sum,
                     const torch::Tensor& bias, torch::Tensor out) {
  const int64_t c = x.size(1), frames = out.size(0), pairs = frames / 2, out_channels = out.size(1);
  auto rows = [&](int64_t n, int64_t step, int64_t first) {  // x[first], x[first + step], ... as [n, Cin]
    return x.as_strided({n, c}, {step * c, 1}, x.storage_offset() + first * c);
  };
  const auto w0 = taps.narrow(0, 0, c), w1 = taps.narrow(0, c, c), w2 = taps.narrow(0, 2 * c, c);
  ProductInto(out, bias, rows(frames, 2, 1), w1);
  if (pairs > 0) {
    const auto d1 = rows(pairs, 4, 2);
    const auto m2 = torch::mm(d1, even_sum);
    auto even = out.as_strided({pairs, out_channels}, {2 * out_channels, 1}, out.storage_offset());
    auto odd = out.as_strided({pairs, out_channels}, {2 * out_channels, 1}, out.storage_offset() + out_channels);
    even.addmm_(rows(pairs, 4, 0) - d1, w0).add_(m2);
    odd.addmm_(rows(pairs, 4, 4) - d1, w2).add_(m2);
  }
  if (frames % 2 == 1) {  // the last frame has no partner
    auto last = out.narrow(0, frames - 1, 1);
    last.addmm_(rows(1, 1, 2 * frames - 2), w0).addmm_(rows(1, 1, 2 * frames), w2);
  }
}

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

  // forward on time-major x [B, T, C] -> [B, T', C'] (inference: the weight's [kernel * Cin, Cout] copy is made
  // once and kept).
  torch::Tensor ForwardTimeMajor(const torch::Tensor& x) {
    TORCH_INTERNAL_ASSERT(x.is_contiguous(), "the time-major conv routes read x through strided views");
    const int64_t kernel = (*conv->options.kernel_size())[0], stride = (*conv->options.stride())[0];
    const auto& taps = taps_.Get({conv->weight}, [&] {
      return conv->weight.permute({2, 1, 0}).reshape({-1, conv->weight.size(0)}).contiguous();
    });
    const int64_t b = x.size(0);
    auto y = torch::empty({b, ConvFrames(x.size(1), kernel, stride), taps.size(1)}, x.options());
    for (int64_t i = 0; i < b; ++i) {
      if (x.size(2) == 1) {
        SingleChannelConv(x[i], taps, kernel, stride, y[i]);
      } else if (kernel == 3 && stride == 2) {
        const auto& even_sum = even_sum_.Get({conv->weight}, [&] {
          const int64_t c = x.size(2);
          return taps.narrow(0, 0, c) + taps.narrow(0, 2 * c, c);
        });
        Winograd3x2Rows(x[i], taps, even_sum, conv->bias, y[i]);
      } else {
        StridedConvRows(x[i], taps, conv->bias, kernel, stride, y[i]);
      }
    }
    if (layer_norm) y = layer_norm(y);
    if (activation_ == "gelu") return torch::gelu_(y);
    if (activation_ == "relu") return torch::relu_(y);
    return Activation(activation_, y);
  }
  torch::nn::Conv1d conv{nullptr};
  torch::nn::GroupNorm group_norm{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};

 private:
  // The first layer (one input channel: the waveform) as one product of its patches [T', kernel], copied out
  // (a few MB), with a column of ones appended for the bias: no pass of its own over the [T', Cout] output to
  // add the bias. Its group norm (one group a channel, statistics over the utterance's frames) is folded in as
  // well: y = P w_c + b_c is linear in the patches P, so channel c's mean is mean(P) w_c + b_c and its variance
  // w_c^T cov(P) w_c, from P's kernel x kernel covariance (in double) instead of a reduction over the output
  // (torch's var_mean across its rows took 55 ms on 10 s of audio); normalising then only rescales the columns
  // of the weight and shifts the bias.
  void SingleChannelConv(const torch::Tensor& x, const torch::Tensor& taps, int64_t kernel, int64_t stride,
                         torch::Tensor out) const {
    const int64_t frames = out.size(0);
    auto patches = x.as_strided({frames, kernel}, {stride, 1});
    auto weight = taps.to(torch::kFloat64);
    auto bias = conv->bias.defined() ? conv->bias.to(torch::kFloat64) : torch::zeros({taps.size(1)}, weight.options());
    if (group_norm) {
      auto p = patches.to(torch::kFloat64);
      auto mean = p.mean(0);
      auto centered = p - mean;
      auto covariance = torch::mm(centered.t(), centered) / static_cast<double>(frames);
      auto scale = torch::rsqrt((torch::mm(covariance, weight) * weight).sum(0) + group_norm->options.eps());
      if (group_norm->weight.defined()) scale = scale * group_norm->weight.to(torch::kFloat64);
      weight = weight * scale;
      bias = -torch::mv(weight.t(), mean);  // the conv's own bias cancels against the mean
      if (group_norm->bias.defined()) bias = bias + group_norm->bias.to(torch::kFloat64);
    }
    auto augmented = torch::cat({patches, torch::ones({frames, 1}, x.options())}, 1);
    torch::mm_out(out, augmented, torch::cat({weight, bias.unsqueeze(0)}).to(x.scalar_type()));
  }

  std::string activation_;
  DerivedCache taps_, even_sum_;
};
TORCH_MODULE(ConvLayer);

class FeatureEncoderImpl : public torch::nn::Module {
 public:
  explicit FeatureEncoderImpl(const AcousticEncoderConfig& c) {
    conv_layers = register_module("conv_layers", torch::nn::ModuleList());
    for (size_t i = 0; i < c.conv_dim.size(); ++i) {
      const std::string norm = c.feat_extract_norm == "layer" ? "layer" : (i == 0 ? "group" : "none");
      conv_layers->push_back(ConvLayer(i == 0 ? 1 : c.conv_dim[i - 1], c.conv_dim[i], c.conv_kernel[i],
                                       c.conv_stride[i], c.conv_bias, norm, c.feat_extract_activation));
    }
  }
  torch::Tensor forward(const torch::Tensor& waveform) {  // [B, T] -> [B, T', C], time-major
    // Under inference on the CPU every layer runs time-major as matrix products (see ForwardTimeMajor); training
    // keeps LibTorch's conv1d and its autograd.
    if (c10::InferenceMode::is_enabled() && waveform.device().is_cpu()) {
      torch::Tensor x = waveform.unsqueeze(2).contiguous();
      for (const auto& layer : *conv_layers) x = layer->as<ConvLayerImpl>()->ForwardTimeMajor(x);
      return x;
    }
    torch::Tensor x = waveform.unsqueeze(1);
    for (const auto& layer : *conv_layers) x = layer->as<ConvLayerImpl>()->forward(x);
    return x.transpose(1, 2);
  }
  torch::nn::ModuleList conv_layers{nullptr};
};

class FeatureProjectionImpl : public torch::nn::Module {
 public:
  explicit FeatureProjectionImpl(const AcousticEncoderConfig& c) : dropout_(c.feat_proj_dropout) {
    if (c.type != "hubert" || c.feat_proj_layer_norm) {
      layer_norm = register_module(
          "layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.FeatureDim()}).eps(c.layer_norm_eps)));
    }
    projection = register_module("projection", torch::nn::Linear(c.FeatureDim(), c.hidden_size));
  }
  torch::Tensor forward(torch::Tensor x) {  // [B, T, C]
    if (layer_norm) x = layer_norm(x);
    return torch::dropout(projection_linear_(projection, x), dropout_, is_training());
  }
  torch::nn::LayerNorm layer_norm{nullptr};
  torch::nn::Linear projection{nullptr};

 private:
  double dropout_;
  PackedLinear projection_linear_;
};

// Conv1d with weight norm over dim 2 (torch.nn.utils.weight_norm(conv, dim=2)): weight = g * v / ||v||, the
// norm taken over every dim but the kernel position. Time-major in and out: the conv runs as a 2-D conv on
// [B, C, 1, T] in channels-last layout, which is the [B, T, C] buffer itself. oneDNN's channels-last kernels run
// wav2vec2-base's grouped 128-tap conv 1.6-3.6x faster than its channels-first ones on [B, C, T] (2 threads: 1 s of
// audio at batch 1 and 8, 10 s at batch 1), and no transpose copy is needed on either side.
class WeightNormConv1dImpl : public torch::nn::Module {
 public:
  WeightNormConv1dImpl(int64_t channels, int64_t kernel, int64_t groups) : groups_(groups), padding_(kernel / 2) {
    // HuggingFace's init: normal(0, 2/sqrt(k*C)) for the weight, which weight_norm then splits into g and v.
    auto w = torch::randn({channels, channels / groups, kernel}) * (2.0 * std::sqrt(1.0 / (kernel * channels)));
    weight_g = register_parameter("weight_g", torch::norm_except_dim(w, 2, 2));
    weight_v = register_parameter("weight_v", w);
    bias = register_parameter("bias", torch::zeros({channels}));
  }
  torch::Tensor Weight() {
    if (!c10::InferenceMode::is_enabled()) return Folded();
    return folded_.Get({weight_v, weight_g}, [&] { return Folded(); });
  }
  torch::Tensor forward(const torch::Tensor& x) {  // [B, T, C] -> [B, T + 2 * padding - kernel + 1, C]
    const std::array<int64_t, 2> one{1, 1}, padding{0, padding_};
    auto y = torch::conv2d(x.transpose(1, 2).unsqueeze(2), Weight(), bias, one, padding, one, groups_);
    return y.squeeze(2).transpose(1, 2);
  }
  torch::Tensor weight_g, weight_v, bias;

 private:
  // [C, C / groups, 1, kernel], channels-last.
  torch::Tensor Folded() {
    return torch::_weight_norm(weight_v, weight_g, 2).unsqueeze(2).contiguous(torch::MemoryFormat::ChannelsLast);
  }
  int64_t groups_, padding_;
  DerivedCache folded_;
};
TORCH_MODULE(WeightNormConv1d);

class PositionalConvEmbeddingImpl : public torch::nn::Module {
 public:
  explicit PositionalConvEmbeddingImpl(const AcousticEncoderConfig& c)
      : remove_(c.num_conv_pos_embeddings % 2 == 0 ? 1 : 0), activation_(c.feat_extract_activation) {
    conv = register_module("conv",
                           WeightNormConv1d(c.hidden_size, c.num_conv_pos_embeddings, c.num_conv_pos_embedding_groups));
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
      : heads_(c.num_attention_heads),
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
    if (PackedLinear::Applies(x)) return ForwardColumns(x, mask_bias, position_bias);
    if (c10::InferenceMode::is_enabled() && x.device().is_cpu()) return ForwardHeads(x, mask_bias, position_bias);
    const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
    torch::Tensor q, k, v;
    if (c10::InferenceMode::is_enabled()) {
      auto qkv =
          torch::linear(x, FusedWeight(), FusedBias()).view({b, t, 3, heads_, head_dim_}).permute({2, 0, 3, 1, 4});
      q = qkv[0];
      k = qkv[1];
      v = qkv[2];
    } else {
      q = (Linear(q_proj, x) * Scale()).view({b, t, heads_, head_dim_}).transpose(1, 2);
      k = Linear(k_proj, x).view({b, t, heads_, head_dim_}).transpose(1, 2);
      v = Linear(v_proj, x).view({b, t, heads_, head_dim_}).transpose(1, 2);
    }
    auto scores = AddBiases(torch::matmul(q, k.transpose(-2, -1)), x, mask_bias, position_bias);
    auto probs = torch::dropout(torch::softmax(scores, -1), dropout_, is_training());
    auto out = torch::matmul(probs, v).transpose(1, 2).reshape({b, t, d});
    return Linear(out_proj, out);
  }

  torch::nn::Linear k_proj{nullptr}, v_proj{nullptr}, q_proj{nullptr}, out_proj{nullptr};
  torch::Tensor gru_rel_pos_const;
  torch::nn::Linear gru_rel_pos_linear{nullptr};
  torch::nn::Embedding rel_attn_embed{nullptr};

 private:
  double Scale() const { return 1.0 / std::sqrt(static_cast<double>(head_dim_)); }

  // q, k and v as one matrix, with the 1/sqrt(head_dim) scale folded into q's rows (inference only).
  const torch::Tensor& FusedWeight() {
    return qkv_weight_.Get({q_proj->weight, k_proj->weight, v_proj->weight}, [&] {
      return torch::cat({q_proj->weight * Scale(), k_proj->weight, v_proj->weight});
    });
  }
  const torch::Tensor& FusedBias() {
    return qkv_bias_.Get({q_proj->bias, k_proj->bias, v_proj->bias}, [&] {
      return torch::cat({q_proj->bias * Scale(), k_proj->bias, v_proj->bias});
    });
  }

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

  // scores [B, H, T, T] plus WavLM's gated position bias and the padding mask.
  torch::Tensor AddBiases(torch::Tensor scores, const torch::Tensor& x, const torch::Tensor& mask_bias,
                          const torch::Tensor& position_bias) {
    if (position_bias.defined()) scores = scores + Gate(x) * position_bias.unsqueeze(0);
    if (mask_bias.defined()) scores = scores + mask_bias;
    return scores;
  }

  // Inference on the CPU beyond the column route (more than 160 rows, or not float32): each (utterance, head) pair
  // is one task of a parallel loop, done whole by one thread: its scores [T, T] (1 MB at 10 s of audio, so they
  // stay in the core's cache), the biases, the softmax in place, and the product with v written straight into the
  // head's columns of the output, which is [B, T, D] as out_proj takes it. One thread runs these 64-deep products
  // near the core's limit; the batched matmul split each across both threads (wav2vec2-base, 10 s, 2 threads:
  // attention 7.7 -> 6.0 ms a layer).
  torch::Tensor ForwardHeads(const torch::Tensor& x, const torch::Tensor& mask_bias,
                             const torch::Tensor& position_bias) {
    const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
    const auto qkv = torch::linear(x, FusedWeight(), FusedBias());  // [B, T, 3D], q pre-scaled
    const auto gate = position_bias.defined() ? Gate(x) : torch::Tensor();
    auto out = torch::empty({b, t, d}, x.options());
    at::parallel_for(0, b * heads_, 1, [&](int64_t begin, int64_t end) {
      c10::InferenceMode guard;  // thread-local: the pool's threads do not inherit it
      auto scores = torch::empty({t, t}, x.options());
      for (int64_t i = begin; i < end; ++i) {
        const int64_t u = i / heads_, h = i % heads_;
        auto part = [&](int64_t which) { return qkv[u].narrow(1, which * d + h * head_dim_, head_dim_); };
        torch::mm_out(scores, part(0), part(1).t());
        if (gate.defined()) scores.addcmul_(gate[u][h], position_bias[h]);
        if (mask_bias.defined()) scores.add_(mask_bias[u][0]);
        at::softmax_out(scores, scores, -1);
        auto columns = out[u].narrow(1, h * head_dim_, head_dim_);
        torch::mm_out(columns, scores, part(2));
      }
    });
    return Linear(out_proj, out);
  }

  // forward in PackedLinear's columns: q, k and v come out of their product transposed, [H, head_dim, T] a row
  // of the batch, which is the layout k^T needs as it is; the attention output is computed transposed as well
  // (v^T probs^T), which is the out projection's input layout, so no copy sits between the three products.
  torch::Tensor ForwardColumns(const torch::Tensor& x, const torch::Tensor& mask_bias,
                               const torch::Tensor& position_bias) {
    const int64_t b = x.size(0), t = x.size(1), d = x.size(2), bh = b * heads_;
    auto qkv = qkv_linear_
                   .Columns(PackedLinear::ToColumns(x), FusedWeight(), FusedBias(),
                            {q_proj->weight, k_proj->weight, v_proj->weight})
                   .to_dense()
                   .view({3, heads_, head_dim_, b, t});
    auto part = [&](int64_t i) {  // [B * H, head_dim, T]
      return b == 1 ? qkv[i].view({bh, head_dim_, t}) : qkv[i].permute({2, 0, 1, 3}).reshape({bh, head_dim_, t});
    };
    const auto qt = part(0), kt = part(1), vt = part(2);
    auto scores = AddBiases(torch::bmm(qt.transpose(1, 2), kt).view({b, heads_, t, t}), x, mask_bias, position_bias);
    auto probs = torch::softmax(scores, -1).view({bh, t, t});
    auto out_t = torch::bmm(vt, probs.transpose(1, 2));  // [B * H, head_dim, T]
    auto columns =
        b == 1 ? out_t.view({1, d, 1, t}) : out_t.view({b, d, t}).permute({1, 0, 2}).reshape({1, d, 1, b * t});
    return PackedLinear::FromColumns(out_linear_.Columns(out_proj, columns.to_mkldnn()), x);
  }

  int64_t heads_, head_dim_;
  double dropout_;
  int64_t num_buckets_, max_distance_;
  DerivedCache qkv_weight_, qkv_bias_;
  PackedLinear qkv_linear_, out_linear_;
};
TORCH_MODULE(Attention);

class FeedForwardImpl : public torch::nn::Module {
 public:
  explicit FeedForwardImpl(const AcousticEncoderConfig& c)
      : act_(c.hidden_act), activation_dropout_(c.activation_dropout), hidden_dropout_(c.hidden_dropout) {
    intermediate_dense = register_module("intermediate_dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
    output_dense = register_module("output_dense", torch::nn::Linear(c.intermediate_size, c.hidden_size));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (PackedLinear::Applies(x) && (act_ == "gelu" || act_ == "relu")) {
      // Both products and the activation on oneDNN tensors in columns (inference: no dropout).
      auto h = intermediate_.Columns(intermediate_dense, PackedLinear::ToColumns(x));
      h = act_ == "gelu" ? torch::gelu(h) : torch::relu(h);
      return PackedLinear::FromColumns(output_.Columns(output_dense, h), x);
    }
    auto h = torch::dropout(Activation(act_, Linear(intermediate_dense, x)), activation_dropout_, is_training());
    return torch::dropout(Linear(output_dense, h), hidden_dropout_, is_training());
  }
  torch::nn::Linear intermediate_dense{nullptr}, output_dense{nullptr};

 private:
  std::string act_;
  double activation_dropout_, hidden_dropout_;
  PackedLinear intermediate_, output_;
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
      mask_bias = torch::zeros(mask.sizes(), x.options())
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

EncoderOutput AcousticEncoderImpl::forward(const torch::Tensor& waveform, const torch::Tensor& lengths) {
  if (waveform.dim() != 2) {
    throw DataError("acoustic encoder: waveform must be [batch, samples], got " + std::to_string(waveform.dim()) +
                    " dims");
  }
  const int64_t b = waveform.size(0), t = waveform.size(1);
  torch::Tensor sample_lengths =
      lengths.defined() ? lengths.to(torch::kLong).to(waveform.device()) : torch::full({b}, t, torch::kLong);
  if (sample_lengths.dim() != 1 || sample_lengths.size(0) != b) {
    throw DataError("acoustic encoder: lengths must be [" + std::to_string(b) + "]");
  }
  const int64_t min_len = sample_lengths.min().item<int64_t>(), max_len = sample_lengths.max().item<int64_t>();
  if (max_len > t) {
    throw DataError("acoustic encoder: a length (" + std::to_string(max_len) + ") exceeds the " + std::to_string(t) +
                    " samples given");
  }
  if (min_len < config_.ReceptiveField()) {
    throw DataError("acoustic encoder: an input of " + std::to_string(min_len) + " samples is shorter than the " +
                    std::to_string(config_.ReceptiveField()) + "-sample receptive field of the front end");
  }
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
