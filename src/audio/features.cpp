#include "fas/audio/features.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fas/core/error.h"

namespace fas {
namespace {

// Slaney's mel scale (librosa's and torchaudio's mel_scale="slaney"): linear below 1 kHz, logarithmic above.
constexpr double kFSp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;
const double kLogStep = std::log(6.4) / 27.0;

double HzToMel(double hz) { return hz >= kMinLogHz ? kMinLogMel + std::log(hz / kMinLogHz) / kLogStep : hz / kFSp; }
double MelToHz(double mel) { return mel >= kMinLogMel ? kMinLogHz * std::exp(kLogStep * (mel - kMinLogMel)) : kFSp * mel; }

int WinLength(const LogMelConfig& c) { return c.win_length > 0 ? c.win_length : c.n_fft; }

}  // namespace

void LogMelConfig::Validate() const {
  if (sample_rate <= 0) throw ConfigError("log-mel: sample_rate must be positive");
  if (n_fft < 2) throw ConfigError("log-mel: n_fft must be at least 2");
  if (WinLength(*this) > n_fft) throw ConfigError("log-mel: win_length must not exceed n_fft");
  if (hop_length <= 0) throw ConfigError("log-mel: hop_length must be positive");
  if (n_mels <= 0) throw ConfigError("log-mel: n_mels must be positive");
  const double top = f_max < 0 ? sample_rate / 2.0 : f_max;
  if (f_min < 0 || f_min >= top || top > sample_rate / 2.0) {
    throw ConfigError("log-mel: need 0 <= f_min < f_max <= sample_rate / 2");
  }
  if (log != "whisper" && log != "log" && log != "log10" && log != "none") {
    throw ConfigError("log-mel: log must be whisper, log, log10 or none (got '" + log + "')");
  }
  if (!(floor > 0)) throw ConfigError("log-mel: floor must be positive");
}

torch::Tensor MelFilterbank(int n_freqs, double f_min, double f_max, int n_mels, int sample_rate) {
  // Computed in double and rounded once, so the float result matches torchaudio's to the last bits.
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor all_freqs = torch::linspace(0.0, static_cast<double>(sample_rate / 2), n_freqs, opts);
  const torch::Tensor m_pts = torch::linspace(HzToMel(f_min), HzToMel(f_max), n_mels + 2, opts);
  torch::Tensor f_pts = torch::empty_like(m_pts);
  auto m = m_pts.accessor<double, 1>();
  auto f = f_pts.accessor<double, 1>();
  for (int64_t i = 0; i < m_pts.size(0); ++i) f[i] = MelToHz(m[i]);
  const torch::Tensor f_diff = f_pts.slice(0, 1) - f_pts.slice(0, 0, -1);
  const torch::Tensor slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1);
  const torch::Tensor down = -slopes.slice(1, 0, -2) / f_diff.slice(0, 0, -1);
  const torch::Tensor up = slopes.slice(1, 2) / f_diff.slice(0, 1);
  torch::Tensor fb = torch::clamp_min(torch::min(down, up), 0.0);
  const torch::Tensor enorm = 2.0 / (f_pts.slice(0, 2, n_mels + 2) - f_pts.slice(0, 0, n_mels));
  return (fb * enorm.unsqueeze(0)).to(torch::kFloat32);
}

torch::Tensor PowerSpectrogram(const torch::Tensor& waveform, const LogMelConfig& config) {
  config.Validate();
  if (waveform.dim() != 1 && waveform.dim() != 2) {
    throw DataError("log-mel: waveform must be [T] or [B, T], got " + std::to_string(waveform.dim()) + " dims");
  }
  const int64_t samples = waveform.size(-1);
  if (samples <= config.n_fft / 2) {
    throw DataError("log-mel: " + std::to_string(samples) + " samples is too short for n_fft " +
                    std::to_string(config.n_fft) + " (reflect padding needs more than n_fft/2)");
  }
  const int win = WinLength(config);
  const torch::Tensor window =
      torch::hann_window(win, torch::TensorOptions().dtype(torch::kFloat32).device(waveform.device()));
  const torch::Tensor spec = torch::stft(waveform.to(torch::kFloat32).contiguous(), config.n_fft, config.hop_length,
                                         win, window, /*center=*/true, "reflect", /*normalized=*/false,
                                         /*onesided=*/true, /*return_complex=*/true);
  return torch::view_as_real(spec).pow(2).sum(-1);
}

int64_t NumLogMelFrames(int64_t samples, const LogMelConfig& config) {
  return samples / config.hop_length + 1 - (config.drop_last_frame ? 1 : 0);
}

torch::Tensor LogMelSpectrogram(const torch::Tensor& waveform, const LogMelConfig& config,
                                const torch::Tensor& lengths) {
  torch::Tensor power = PowerSpectrogram(waveform, config);
  if (config.drop_last_frame) power = power.slice(-1, 0, -1);
  const double f_max = config.f_max < 0 ? config.sample_rate / 2.0 : config.f_max;
  const torch::Tensor fb =
      MelFilterbank(config.n_fft / 2 + 1, config.f_min, f_max, config.n_mels, config.sample_rate).to(power.device());
  torch::Tensor mel = torch::matmul(fb.t(), power);  // [.., n_mels, frames]
  if (config.log == "none") return mel;
  if (config.log == "log") return torch::log(torch::clamp_min(mel, config.floor));
  torch::Tensor logmel = torch::log10(torch::clamp_min(mel, config.floor));
  if (config.log == "log10") return logmel;

  const bool batched = logmel.dim() == 3;
  if (!batched) logmel = logmel.unsqueeze(0);
  torch::Tensor peak;
  if (lengths.defined()) {
    if (!batched || lengths.numel() != logmel.size(0)) throw DataError("log-mel: lengths must be [B] for [B, T] input");
    const auto frames = torch::arange(logmel.size(-1), torch::TensorOptions().device(logmel.device())).unsqueeze(0);
    const auto valid = (lengths.to(logmel.device(), torch::kInt64) / config.hop_length + 1 - (config.drop_last_frame ? 1 : 0))
                           .clamp_min(1)
                           .unsqueeze(1);
    const auto keep = (frames < valid).unsqueeze(1);  // [B, 1, frames]
    peak = logmel.masked_fill(keep.logical_not(), -std::numeric_limits<float>::infinity()).amax({1, 2}, true);
  } else {
    peak = logmel.amax({1, 2}, true);
  }
  logmel = (torch::maximum(logmel, peak - 8.0) + 4.0) / 4.0;
  return batched ? logmel : logmel.squeeze(0);
}

Normalization ParseNormalization(const std::string& name) {
  if (name == "none" || name.empty()) return Normalization::kNone;
  if (name == "peak") return Normalization::kPeak;
  if (name == "rms") return Normalization::kRms;
  if (name == "mean_var") return Normalization::kMeanVar;
  throw ConfigError("unknown normalisation '" + name + "' (none, peak, rms, mean_var)");
}

void Normalize(float* x, size_t n, Normalization mode, double peak_target, double rms_target_dbfs) {
  if (n == 0 || mode == Normalization::kNone) return;
  if (mode == Normalization::kPeak) {
    float peak = 0.0f;
    for (size_t i = 0; i < n; ++i) peak = std::max(peak, std::fabs(x[i]));
    if (peak <= 0.0f) return;  // silence stays silence
    const float g = static_cast<float>(peak_target / peak);
    for (size_t i = 0; i < n; ++i) x[i] *= g;
    return;
  }
  double sum = 0.0;
  double sq = 0.0;
  for (size_t i = 0; i < n; ++i) {
    sum += x[i];
    sq += static_cast<double>(x[i]) * x[i];
  }
  if (mode == Normalization::kRms) {
    const double rms = std::sqrt(sq / n);
    if (rms <= 0.0) return;
    const float g = static_cast<float>(std::pow(10.0, rms_target_dbfs / 20.0) / rms);
    for (size_t i = 0; i < n; ++i) x[i] *= g;
    return;
  }
  // Two passes: the one-pass variance cancels badly on a signal with a large DC offset.
  const double mean = sum / n;
  double var = 0.0;
  for (size_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= n;
  const double inv = 1.0 / std::sqrt(var + 1e-7);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>((x[i] - mean) * inv);
}

}  // namespace fas
