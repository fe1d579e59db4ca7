// Log-mel front end (Whisper encoder, baselines) and waveform normalisation.
//
// The log-mel matches torchaudio's `Spectrogram(n_fft, win_length, hop_length, power=2)` (periodic Hann window,
// centred frames with reflect padding) followed by `melscale_fbanks(norm="slaney", mel_scale="slaney")`, which is
// also the filterbank Whisper ships (librosa's defaults). The Whisper log is
//   log10(clamp(mel, 1e-10)) -> max(x, x.max() - 8) -> (x + 4) / 4,   with the last STFT frame dropped,
// exactly as openai/whisper's `log_mel_spectrogram`.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace fas {

struct LogMelConfig {
  int sample_rate = 16000;
  int n_fft = 400;       // 25 ms at 16 kHz
  int win_length = 0;    // 0 = n_fft
  int hop_length = 160;  // 10 ms at 16 kHz
  int n_mels = 80;
  double f_min = 0.0;
  double f_max = -1.0;              // negative = sample_rate / 2
  std::string log = "whisper";      // whisper | log (natural log of clamp(mel, floor)) | log10 | none
  double floor = 1e-10;             // clamp before the log
  bool drop_last_frame = true;      // Whisper drops the last STFT frame; torchaudio keeps it
  template <class V>
  void Visit(V& v) {
    v("sample_rate", sample_rate);
    v("n_fft", n_fft);
    v("win_length", win_length, "0 = n_fft");
    v("hop_length", hop_length);
    v("n_mels", n_mels);
    v("f_min", f_min);
    v("f_max", f_max, "negative = sample_rate / 2");
    v("log", log, "whisper | log | log10 | none");
    v("floor", floor);
    v("drop_last_frame", drop_last_frame, "true as Whisper does");
  }
  void Validate() const;  // throws ConfigError naming the field
};

// Slaney-scale triangular filters with Slaney (area) normalisation: [n_freqs, n_mels], as torchaudio returns them.
torch::Tensor MelFilterbank(int n_freqs, double f_min, double f_max, int n_mels, int sample_rate);

// Power spectrogram [.., n_fft/2+1, frames] of a waveform [T] or [B, T] (float32).
torch::Tensor PowerSpectrogram(const torch::Tensor& waveform, const LogMelConfig& config);

// Log-mel features [n_mels, frames] for [T], or [B, n_mels, frames] for [B, T]. With the Whisper log the
// `max - 8` floor is taken per utterance. `lengths` (optional, [B] samples) keeps padding out of that maximum.
torch::Tensor LogMelSpectrogram(const torch::Tensor& waveform, const LogMelConfig& config,
                                const torch::Tensor& lengths = {});

// Number of frames LogMelSpectrogram returns for `samples` samples.
int64_t NumLogMelFrames(int64_t samples, const LogMelConfig& config);

// Waveform normalisation, applied per utterance before padding.
//   none; peak: scale so max |x| = peak_target; rms: scale so the RMS is rms_target_dbfs (dB re full scale);
//   mean_var: (x - mean) / sqrt(var + 1e-7), the wav2vec2 feature extractor's `do_normalize`.
enum class Normalization { kNone, kPeak, kRms, kMeanVar };
Normalization ParseNormalization(const std::string& name);  // throws ConfigError listing the names
void Normalize(float* samples, size_t n, Normalization mode, double peak_target = 0.95, double rms_target_dbfs = -20.0);
inline void Normalize(std::vector<float>& samples, Normalization mode) {
  Normalize(samples.data(), samples.size(), mode);
}

}  // namespace fas
