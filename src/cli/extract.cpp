// `fas extract --config C`: computes the features of the config's frozen encoders once, into the feature cache
// that training then reads.
#include <iostream>

#include "command.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/tasks/ser/ser_task.h"

namespace {

fas::cli::RunFn Setup(CLI::App& app) {
  auto configs = std::make_shared<std::vector<std::string>>();
  auto sets = std::make_shared<std::vector<std::string>>();
  app.add_option("--config,-c", *configs, "experiment config(s)")->required();
  auto skip_bad = std::make_shared<bool>(false);
  app.add_option("--set", *sets, "override a key: a.b.c=value");
  app.add_flag("--skip-bad", *skip_bad, "skip bad manifest lines, listed and counted (= --set data.skip_bad=true)");
  return [configs, sets, skip_bad] {
    if (*skip_bad) sets->push_back("data.skip_bad=true");
    const fas::ExperimentConfig cfg = fas::LoadExperimentConfig(*configs, *sets);
    const int64_t n = fas::ExtractFeatures(cfg);
    std::cout << "computed " << n << " feature entries in " << cfg.data.ResolvedCacheDir() << "\n";
  };
}

const bool kRegistered = fas::cli::RegisterCommand({"extract", "cache the features of frozen encoders", Setup});

}  // namespace
