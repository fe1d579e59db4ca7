// Signal effects that give the synthetic speech its tone beyond what the TTS engines control: level, tremolo,
// soft clipping, spectral tilt and inserted pauses. Plus the two measurements the corpus statistics and tests
// use: an autocorrelation F0 estimator and the RMS level.
#pragma once

#include <cstdint>
#include <vector>

namespace fas::synth {

struct EffectParams {
  double gain_db = 0.0;        // after normalising to the reference level
  double tilt_db = 0.0;        // first-order shelf: dB at Nyquist vs DC (half at 1 kHz); > 0 brighter; level kept
  double tremolo_depth = 0.0;  // amplitude modulation depth, 0..0.9
  double tremolo_hz = 6.0;
  double clip_drive = 0.0;  // tanh soft-clipping gain (peak kept), 0 = none; ~1.5 is audibly strained
  double pause_ms = 0.0;    // silence added at each of up to `max_pauses` inner gaps
  int max_pauses = 2;
};

// Applies, in order: level to `reference_dbfs`, tilt, tremolo, gain, soft clipping, pauses, a -70 dBFS noise
// floor (seeded by `dither_seed`) and a peak limiter (so that nothing exceeds full scale). `phase` (0..1) sets
// the tremolo's starting phase.
std::vector<float> ApplyEffects(const std::vector<float>& samples, int sample_rate, const EffectParams& params,
                                double reference_dbfs, double phase = 0.0, uint64_t dither_seed = 1);

// RMS level in dBFS (full-scale sine = -3 dB); -120 for silence.
double RmsDbfs(const std::vector<float>& samples);

// F0 per 10 ms frame by normalised autocorrelation (60-500 Hz), 0 for unvoiced or silent frames.
std::vector<double> EstimateF0Track(const std::vector<float>& samples, int sample_rate);
// Median F0 over voiced frames; 0 when none is voiced.
double MedianF0(const std::vector<float>& samples, int sample_rate);

// Replaces leading and trailing silence (10 ms frames whose RMS, without their mean, is 45 dB or more below the
// loudest frame) by exactly `margin_ms` of digital silence on each side. pocketsphinx needs about 250 ms: with
// 80 ms its word error rate on flite speech tripled (8.8 % -> 30 %, measured).
std::vector<float> TrimSilence(const std::vector<float>& samples, int sample_rate, double margin_ms = 250.0);

}  // namespace fas::synth
