// `fas extract --config C`: computes the features of the config's frozen encoders once, into the feature cache
// that training then reads.
#include <iostream>

#include "command.h"
#include "fas/train/experiment_config.h"
#include "fas/train/ser_experiment.h"

namespace {

fas::cli::RunFn Setup(CLI::App& app) {
  auto configs = std::make_shared<std::vector<std::string>>();
  auto sets = std::make_shared<std::vector<std::string>>();
  app.add_option("--config,-c", *configs, "experiment config(s)")->required();
  app.add_option("--set", *sets, "override a key: a.b.c=value");
  return [configs, sets] {
    const fas::ExperimentConfig cfg = fas::LoadExperimentConfig(*configs, *sets);
    const int64_t n = fas::ExtractFeatures(cfg);
    std::cout << "computed " << n << " feature entries in " << cfg.data.ResolvedCacheDir() << "\n";
  };
}

const bool kRegistered = fas::cli::RegisterCommand({"extract", "cache the features of frozen encoders", Setup});

}  // namespace
