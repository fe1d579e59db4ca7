#include "fas/audio/augment.h"

#include <cmath>

#include "fas/audio/audio.h"
#include "fas/core/error.h"

namespace fas {

void AugmentConfig::Validate() const {
  for (const auto& [name, p] : {std::pair<const char*, double>{"gain_prob", gain_prob},
                                {"noise_prob", noise_prob},
                                {"speed_prob", speed_prob}}) {
    if (p < 0 || p > 1) throw ConfigError(std::string("augment.") + name + " must be in [0, 1]");
  }
  if (gain_db_min > gain_db_max) throw ConfigError("augment.gain_db_min must not exceed augment.gain_db_max");
  if (snr_db_min > snr_db_max) throw ConfigError("augment.snr_db_min must not exceed augment.snr_db_max");
  if (speed_prob > 0 && speeds.empty()) throw ConfigError("augment.speeds is empty but speed_prob > 0");
  for (double s : speeds) {
    if (!(s >= 0.5 && s <= 2.0)) throw ConfigError("augment.speeds: " + std::to_string(s) + " is outside [0.5, 2]");
  }
}

void Augment(std::vector<float>& x, int sample_rate, const AugmentConfig& config, std::mt19937_64& rng) {
  if (!config.enabled || x.empty()) return;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Every draw is made whether or not its augmentation applies, so changing one probability leaves the others'
  // random streams unchanged.
  const bool do_speed = unit(rng) < config.speed_prob;
  const double speed = config.speeds.empty()
                           ? 1.0
                           : config.speeds[std::uniform_int_distribution<size_t>(0, config.speeds.size() - 1)(rng)];
  const bool do_gain = unit(rng) < config.gain_prob;
  const double gain_db = std::uniform_real_distribution<double>(config.gain_db_min, config.gain_db_max)(rng);
  const bool do_noise = unit(rng) < config.noise_prob;
  const double snr_db = std::uniform_real_distribution<double>(config.snr_db_min, config.snr_db_max)(rng);
  const uint64_t noise_seed = rng();

  if (do_speed && speed != 1.0) {
    // Played `speed` times faster: the samples are treated as if recorded at rate * speed.
    const int as_if = static_cast<int>(std::lround(sample_rate * speed));
    x = Resample(x, as_if, sample_rate);
  }
  if (do_gain) {
    const float g = static_cast<float>(std::pow(10.0, gain_db / 20.0));
    for (auto& s : x) s *= g;
  }
  if (do_noise) {
    double power = 0.0;
    for (float s : x) power += static_cast<double>(s) * s;
    power /= static_cast<double>(x.size());
    if (power > 0) {
      const double sigma = std::sqrt(power / std::pow(10.0, snr_db / 10.0));
      std::mt19937_64 noise_rng(noise_seed);
      std::normal_distribution<float> noise(0.0f, static_cast<float>(sigma));
      for (auto& s : x) s += noise(noise_rng);
    }
  }
}

}  // namespace fas
