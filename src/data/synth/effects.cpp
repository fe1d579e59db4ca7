#include "fas/data/synth/effects.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fas::synth {

namespace {

double Rms(const float* x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return n ? std::sqrt(s / n) : 0.0;
}

void ScaleTo(std::vector<float>& x, double target_rms) {
  const double r = Rms(x.data(), x.size());
  if (r <= 1e-9) return;
  const float g = static_cast<float>(target_rms / r);
  for (float& v : x) v *= g;
}

// First-order shelf, symmetric in dB: 0 dB at DC, `tilt_db` at Nyquist and half of it at 1 kHz (the boundary of
// the alpha ratio, the usual measure of vocal effort). Zero and pole sit a factor sqrt(G) either side of 1 kHz
// (H(s) = G (s + wc/sqrt(G)) / (s + wc sqrt(G))), mapped by the bilinear transform with pre-warping. The RMS is
// restored afterwards, so tilt changes timbre and not level.
void Tilt(std::vector<float>& x, int sr, double tilt_db) {
  if (std::abs(tilt_db) < 1e-6 || x.empty()) return;
  const double before = Rms(x.data(), x.size());
  const double gain = std::pow(10.0, tilt_db / 20.0), root = std::sqrt(gain);
  const double k = std::tan(M_PI * std::min(1000.0, 0.45 * sr) / sr);
  const double a0 = 1.0 + k * root;
  const double b0 = gain * (1.0 + k / root) / a0, b1 = gain * (k / root - 1.0) / a0, a1 = (k * root - 1.0) / a0;
  double x1 = 0.0, y1 = 0.0;
  for (float& v : x) {
    const double y = b0 * v + b1 * x1 - a1 * y1;
    x1 = v;
    y1 = y;
    v = static_cast<float>(y);
  }
  ScaleTo(x, before);
}

void Tremolo(std::vector<float>& x, int sr, double depth, double hz, double phase) {
  if (depth <= 0.0) return;
  depth = std::min(depth, 0.9);
  const double w = 2.0 * M_PI * hz / sr;
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(x[i] * (1.0 - depth * 0.5 * (1.0 + std::sin(w * i + 2.0 * M_PI * phase))));
  }
}

void SoftClip(std::vector<float>& x, double drive) {
  if (drive <= 0.0) return;
  // Gain into tanh relative to the signal's own peak, so the strain is audible at any level; the output peak is
  // kept where it was. The drive is the tanh gain itself, so that drive -> 0 tends to the identity: with
  // 1 + drive, a jittered drive of 0.05 on a neutral utterance already raised its level by 2.4 dB.
  float peak = 0.0f;
  for (float v : x) peak = std::max(peak, std::abs(v));
  if (peak <= 1e-9f) return;
  const double g = drive;
  const double norm = peak / std::tanh(g);
  for (float& v : x) v = static_cast<float>(norm * std::tanh(g * v / peak));
}

// Silence inserted into the longest inner low-energy gaps (between words).
std::vector<float> Pauses(const std::vector<float>& x, int sr, double pause_ms, int max_pauses) {
  if (pause_ms < 1.0 || max_pauses <= 0) return x;
  const size_t frame = static_cast<size_t>(sr / 100);  // 10 ms
  const size_t frames = x.size() / frame;
  if (frames < 20) return x;
  const double overall = Rms(x.data(), x.size());
  std::vector<bool> quiet(frames);
  for (size_t f = 0; f < frames; ++f) quiet[f] = Rms(x.data() + f * frame, frame) < 0.1 * overall;
  // Runs of quiet frames between the first and the last loud frame (between words, not the edge silence).
  size_t first_loud = 0, last_loud = frames;
  while (first_loud < frames && quiet[first_loud]) ++first_loud;
  while (last_loud > first_loud && quiet[last_loud - 1]) --last_loud;
  std::vector<std::pair<size_t, size_t>> gaps;
  for (size_t f = first_loud; f < last_loud;) {
    if (!quiet[f]) {
      ++f;
      continue;
    }
    size_t g = f;
    while (g < last_loud && quiet[g]) ++g;
    if (g - f >= 2) gaps.emplace_back(g - f, (f + g) / 2);
    f = g;
  }
  std::sort(gaps.begin(), gaps.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  if (gaps.size() > static_cast<size_t>(max_pauses)) gaps.resize(max_pauses);
  std::vector<size_t> cuts;
  for (const auto& g : gaps) cuts.push_back(g.second * frame);
  std::sort(cuts.begin(), cuts.end());
  const size_t pause = static_cast<size_t>(pause_ms * sr / 1000.0);
  std::vector<float> out;
  out.reserve(x.size() + cuts.size() * pause);
  size_t from = 0;
  for (size_t c : cuts) {
    out.insert(out.end(), x.begin() + from, x.begin() + c);
    out.insert(out.end(), pause, 0.0f);
    from = c;
  }
  out.insert(out.end(), x.begin() + from, x.end());
  return out;
}

void Limit(std::vector<float>& x) {
  constexpr float kKnee = 0.9f, kRoom = 0.09f;  // above the knee, approach 0.99 smoothly
  for (float& v : x) {
    const float a = std::abs(v);
    if (a > kKnee) v = std::copysign(kKnee + kRoom * std::tanh((a - kKnee) / kRoom), v);
  }
}

}  // namespace

std::vector<float> ApplyEffects(const std::vector<float>& samples, int sample_rate, const EffectParams& p,
                                double reference_dbfs, double phase, uint64_t dither_seed) {
  std::vector<float> x = samples;
  // Every engine and voice starts at the same level, so that loudness is set by the profile alone. The RMS that
  // RmsDbfs reads as `reference_dbfs` (a full-scale sine is 0 dBFS there).
  ScaleTo(x, std::pow(10.0, reference_dbfs / 20.0) / std::sqrt(2.0));
  Tilt(x, sample_rate, p.tilt_db);
  Tremolo(x, sample_rate, p.tremolo_depth, p.tremolo_hz, phase);
  const float g = static_cast<float>(std::pow(10.0, p.gain_db / 20.0));
  for (float& v : x) v *= g;
  SoftClip(x, p.clip_drive);
  x = Pauses(x, sample_rate, p.pause_ms, p.max_pauses);
  // A noise floor at -70 dBFS: pocketsphinx's features break down on stretches of digital silence (the inserted
  // pauses raised its word error rate from 13 % to 30 %), as every real recording has some noise.
  uint64_t state = dither_seed;
  const double floor_rms = std::pow(10.0, -70.0 / 20.0);
  for (float& v : x) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;  // PCG-style LCG: same bytes everywhere
    const double u = static_cast<double>(state >> 11) / 9007199254740992.0;  // uniform [0, 1): RMS 1/sqrt(12)
    v += static_cast<float>((u - 0.5) * std::sqrt(12.0) * floor_rms);
  }
  Limit(x);
  return x;
}

double RmsDbfs(const std::vector<float>& samples) {
  const double r = Rms(samples.data(), samples.size());
  return r <= 1e-6 ? -120.0 : 20.0 * std::log10(r * std::sqrt(2.0));
}

std::vector<double> EstimateF0Track(const std::vector<float>& x, int sr) {
  const size_t win = static_cast<size_t>(0.04 * sr), hop = static_cast<size_t>(0.01 * sr);
  const size_t min_lag = static_cast<size_t>(sr / 500.0), max_lag = static_cast<size_t>(sr / 60.0);
  std::vector<double> track;
  if (x.size() < win + max_lag) return track;
  const double overall = Rms(x.data(), x.size());
  for (size_t start = 0; start + win + max_lag <= x.size(); start += hop) {
    const float* f = x.data() + start;
    if (Rms(f, win) < 0.25 * overall) {
      track.push_back(0.0);
      continue;
    }
    // Normalised cross-correlation of the window with its lagged copy; the first peak above 0.8 of the best
    // one avoids octave errors (a multiple of the period correlates almost as well).
    std::vector<double> r(max_lag + 1, 0.0);
    double best = 0.0;
    for (size_t lag = min_lag; lag <= max_lag; ++lag) {
      double xy = 0.0, xx = 0.0, yy = 0.0;
      for (size_t i = 0; i < win; ++i) {
        xy += static_cast<double>(f[i]) * f[i + lag];
        xx += static_cast<double>(f[i]) * f[i];
        yy += static_cast<double>(f[i + lag]) * f[i + lag];
      }
      r[lag] = xy / std::sqrt(xx * yy + 1e-12);
      best = std::max(best, r[lag]);
    }
    if (best < 0.6) {
      track.push_back(0.0);
      continue;
    }
    size_t pick = 0;
    for (size_t lag = min_lag + 1; lag < max_lag; ++lag) {
      if (r[lag] >= 0.85 * best && r[lag] >= r[lag - 1] && r[lag] >= r[lag + 1]) {
        pick = lag;
        break;
      }
    }
    if (pick == 0) {
      track.push_back(0.0);
      continue;
    }
    // Parabolic interpolation around the peak for sub-sample lag precision.
    const double a = r[pick - 1], b = r[pick], c = r[pick + 1];
    const double denom = a - 2.0 * b + c;
    const double shift = std::abs(denom) > 1e-12 ? 0.5 * (a - c) / denom : 0.0;
    track.push_back(sr / (pick + shift));
  }
  return track;
}

double MedianF0(const std::vector<float>& samples, int sample_rate) {
  std::vector<double> voiced;
  for (double f : EstimateF0Track(samples, sample_rate)) {
    if (f > 0.0) voiced.push_back(f);
  }
  if (voiced.empty()) return 0.0;
  std::nth_element(voiced.begin(), voiced.begin() + voiced.size() / 2, voiced.end());
  return voiced[voiced.size() / 2];
}

std::vector<float> TrimSilence(const std::vector<float>& x, int sr, double margin_ms) {
  // 10 ms frames, each measured without its mean: Festival's diphone voices end on a DC step (about -56 dBFS
  // held for 0.3 s), which a per-sample threshold counted as speech in some utterances and not in others.
  const size_t frame = std::max<size_t>(1, static_cast<size_t>(sr / 100));
  const size_t frames = (x.size() + frame - 1) / frame;
  std::vector<double> ac(frames, 0.0);
  double loudest = 0.0;
  for (size_t f = 0; f < frames; ++f) {
    const size_t from = f * frame, to = std::min(x.size(), from + frame);
    double mean = 0.0, power = 0.0;
    for (size_t i = from; i < to; ++i) mean += x[i];
    mean /= static_cast<double>(to - from);
    for (size_t i = from; i < to; ++i) power += (x[i] - mean) * (x[i] - mean);
    ac[f] = std::sqrt(power / static_cast<double>(to - from));
    loudest = std::max(loudest, ac[f]);
  }
  if (loudest <= 0.0) return x;
  const double threshold = loudest * 0.00562;  // -45 dB: keeps weak final fricatives, drops hum and residue
  size_t first = 0, last = frames;
  while (first < frames && ac[first] < threshold) ++first;
  while (last > first && ac[last - 1] < threshold) --last;
  const size_t margin = static_cast<size_t>(margin_ms * sr / 1000.0);
  std::vector<float> out(margin, 0.0f);
  out.insert(out.end(), x.begin() + first * frame, x.begin() + std::min(x.size(), last * frame));
  out.insert(out.end(), margin, 0.0f);
  return out;
}

}  // namespace fas::synth
