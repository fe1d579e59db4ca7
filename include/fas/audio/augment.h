// Waveform augmentation for training: random gain, additive Gaussian noise at a random SNR, and speed
// perturbation by resampling (the Kaldi / SpeechBrain recipe: pitch and tempo change together). Off by default;
// the data loader applies it to training batches only. Every draw comes from the generator passed in, which the
// loader seeds from (seed, epoch, utterance), so a run is reproducible whatever the worker-thread timing.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace fas {

struct AugmentConfig {
  bool enabled = false;
  double gain_prob = 0.0;  // probability of applying each augmentation to an utterance
  double gain_db_min = -6.0;
  double gain_db_max = 6.0;
  double noise_prob = 0.0;
  double snr_db_min = 10.0;
  double snr_db_max = 30.0;
  double speed_prob = 0.0;
  std::vector<double> speeds = {0.9, 1.1};  // one is picked uniformly when speed perturbation applies
  template <class V>
  void Visit(V& v) {
    v("enabled", enabled, "master switch; training batches only");
    v("gain_prob", gain_prob);
    v("gain_db_min", gain_db_min);
    v("gain_db_max", gain_db_max);
    v("noise_prob", noise_prob, "white Gaussian noise at a uniform SNR in [snr_db_min, snr_db_max]");
    v("snr_db_min", snr_db_min);
    v("snr_db_max", snr_db_max);
    v("speed_prob", speed_prob);
    v("speeds", speeds, "speed factors (0.9 = slower and longer)");
  }
  void Validate() const;  // throws ConfigError naming the field
};

// Applies the configured augmentations in place (speed first, so noise is added at the final length).
void Augment(std::vector<float>& samples, int sample_rate, const AugmentConfig& config, std::mt19937_64& rng);

}  // namespace fas
