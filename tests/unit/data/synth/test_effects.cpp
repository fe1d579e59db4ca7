// Signal effects and the F0 / level measurements, on signals whose answers are known.
#include <gtest/gtest.h>

#include <cmath>

#include "fas/data/synth/effects.h"

namespace {

constexpr int kRate = 16000;

// A vowel-like harmonic signal at `f0` Hz (10 harmonics, falling 1/k), `seconds` long.
std::vector<float> Harmonic(double f0, double seconds, double amplitude = 0.3) {
  std::vector<float> x(static_cast<size_t>(seconds * kRate));
  for (size_t i = 0; i < x.size(); ++i) {
    double v = 0.0;
    for (int k = 1; k <= 10; ++k) v += std::sin(2.0 * M_PI * f0 * k * i / kRate) / k;
    x[i] = static_cast<float>(amplitude * v / 2.0);
  }
  return x;
}

TEST(Pitch, AutocorrelationFindsTheFundamental) {
  for (double f0 : {85.0, 120.0, 210.0, 330.0}) {
    EXPECT_NEAR(fas::synth::MedianF0(Harmonic(f0, 0.5), kRate), f0, 0.02 * f0) << f0;
  }
  EXPECT_EQ(fas::synth::MedianF0(std::vector<float>(8000, 0.0f), kRate), 0.0);
}

TEST(Level, RmsDbfsOfKnownSignals) {
  std::vector<float> sine(kRate);
  for (size_t i = 0; i < sine.size(); ++i) sine[i] = static_cast<float>(std::sin(2.0 * M_PI * 440.0 * i / kRate));
  EXPECT_NEAR(fas::synth::RmsDbfs(sine), 0.0, 0.05);  // full-scale sine is 0 dBFS by this definition
  for (float& v : sine) v *= 0.1f;
  EXPECT_NEAR(fas::synth::RmsDbfs(sine), -20.0, 0.05);
  EXPECT_EQ(fas::synth::RmsDbfs(std::vector<float>(100, 0.0f)), -120.0);
}

TEST(Effects, ReferenceLevelAndGain) {
  const auto x = Harmonic(150.0, 1.0, 0.05);
  fas::synth::EffectParams p;
  EXPECT_NEAR(fas::synth::RmsDbfs(fas::synth::ApplyEffects(x, kRate, p, -26.0)), -26.0, 0.1);
  p.gain_db = 6.0;
  EXPECT_NEAR(fas::synth::RmsDbfs(fas::synth::ApplyEffects(x, kRate, p, -26.0)), -20.0, 0.1);
  p.gain_db = 40.0;  // far past full scale: the limiter keeps every sample inside it
  for (float v : fas::synth::ApplyEffects(x, kRate, p, -26.0)) ASSERT_LE(std::abs(v), 1.0f);
}

TEST(Effects, TiltChangesTimbreNotLevel) {
  const auto x = Harmonic(150.0, 1.0);
  fas::synth::EffectParams bright, dark;
  bright.tilt_db = 6.0;
  dark.tilt_db = -6.0;
  const auto b = fas::synth::ApplyEffects(x, kRate, bright, -26.0);
  const auto d = fas::synth::ApplyEffects(x, kRate, dark, -26.0);
  EXPECT_NEAR(fas::synth::RmsDbfs(b), -26.0, 0.1);
  EXPECT_NEAR(fas::synth::RmsDbfs(d), -26.0, 0.1);
  // High-frequency share: energy of the first difference relative to the signal.
  auto brightness = [](const std::vector<float>& s) {
    double e = 0.0, de = 0.0;
    for (size_t i = 1; i < s.size(); ++i) {
      e += s[i] * s[i];
      de += (s[i] - s[i - 1]) * (s[i] - s[i - 1]);
    }
    return de / e;
  };
  EXPECT_GT(brightness(b), 1.3 * brightness(x));
  EXPECT_LT(brightness(d), 0.8 * brightness(x));
}

TEST(Effects, TremoloSoftClipAndPauses) {
  const auto x = Harmonic(150.0, 1.0);
  fas::synth::EffectParams trem;
  trem.tremolo_depth = 0.5;
  trem.tremolo_hz = 5.0;
  const auto t = fas::synth::ApplyEffects(x, kRate, trem, -26.0);
  // 50 ms windows: the envelope swings by the modulation depth.
  double lo = 1e9, hi = 0.0;
  for (size_t s = 0; s + 800 <= t.size(); s += 800) {
    const double r = fas::synth::RmsDbfs(std::vector<float>(t.begin() + s, t.begin() + s + 800));
    lo = std::min(lo, r);
    hi = std::max(hi, r);
  }
  EXPECT_GT(hi - lo, 4.0);

  fas::synth::EffectParams clip;
  clip.clip_drive = 3.0;
  const auto c = fas::synth::ApplyEffects(x, kRate, clip, -26.0);
  float peak_c = 0.0f, peak_x = 0.0f;
  for (float v : c) peak_c = std::max(peak_c, std::abs(v));
  const auto ref = fas::synth::ApplyEffects(x, kRate, {}, -26.0);
  for (float v : ref) peak_x = std::max(peak_x, std::abs(v));
  EXPECT_NEAR(peak_c, peak_x, 1e-3);  // same peak ...
  EXPECT_GT(fas::synth::RmsDbfs(c), fas::synth::RmsDbfs(ref) + 2.0);  // ... denser signal: strained
  clip.clip_drive = 0.05;  // a jittered drive near zero is near the identity, not a jump in level
  EXPECT_NEAR(fas::synth::RmsDbfs(fas::synth::ApplyEffects(x, kRate, clip, -26.0)), -26.0, 0.05);

  // Two words with a gap: the pause lands in the gap.
  std::vector<float> words = Harmonic(150.0, 0.4);
  words.insert(words.end(), 1600, 0.0f);
  const auto second = Harmonic(150.0, 0.4);
  words.insert(words.end(), second.begin(), second.end());
  fas::synth::EffectParams pause;
  pause.pause_ms = 200.0;
  const auto p = fas::synth::ApplyEffects(words, kRate, pause, -26.0);
  EXPECT_EQ(p.size(), words.size() + 3200u);
}

TEST(Effects, TrimSilenceKeepsAMargin) {
  std::vector<float> x(8000, 0.0f);
  const auto voice = Harmonic(150.0, 0.5);
  x.insert(x.end(), voice.begin(), voice.end());
  x.insert(x.end(), 8000, 0.0f);
  const auto t = fas::synth::TrimSilence(x, kRate, 80.0);
  EXPECT_NEAR(static_cast<double>(t.size()), voice.size() + 2 * 1280.0, 40.0);

  // Festival's diphone voices end on a held DC step with a little noise (-56 dBFS): residue, not speech.
  std::vector<float> tail = voice;
  for (int i = 0; i < 4800; ++i) tail.push_back(0.0016f + 0.0004f * static_cast<float>((i * 7919) % 13 - 6) / 6.0f);
  EXPECT_NEAR(static_cast<double>(fas::synth::TrimSilence(tail, kRate, 80.0).size()), voice.size() + 2 * 1280.0,
              160.0);
  // A weak final fricative 38 dB below the vowel is speech and stays.
  std::vector<float> fricative = voice;
  uint32_t state = 1;
  for (int i = 0; i < 1600; ++i) {
    state = state * 1664525u + 1013904223u;
    fricative.push_back(0.003f * (static_cast<float>(state >> 8) / 8388608.0f - 1.0f));
  }
  EXPECT_NEAR(static_cast<double>(fas::synth::TrimSilence(fricative, kRate, 80.0).size()),
              voice.size() + 1600 + 2 * 1280.0, 160.0);
}

}  // namespace
