// `fas extract --config C`: computes the features of the config's frozen encoders once, into the feature store
// that training then reads; `--rebuild-shard PATH` drops a corrupt shard first, so only its entries are computed.
#include <iostream>

#include "command.h"
#include "fas/core/device.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/tasks/ser/ser_task.h"

namespace {

fas::cli::RunFn Setup(CLI::App& app) {
  auto configs = std::make_shared<std::vector<std::string>>();
  auto sets = std::make_shared<std::vector<std::string>>();
  app.add_option("--config,-c", *configs, "experiment config(s)")->required();
  auto skip_bad = std::make_shared<bool>(false);
  auto rebuild_shard = std::make_shared<std::string>();
  auto device = std::make_shared<std::string>();
  fas::cli::AddDeviceOption(app, *device);
  app.add_option("--set", *sets, "override a key: a.b.c=value");
  app.add_flag("--skip-bad", *skip_bad, "skip bad manifest lines, listed and counted (= --set data.skip_bad=true)");
  app.add_option("--rebuild-shard", *rebuild_shard,
                 "a shard of the config's feature stores to drop and compute again (a corrupt one)");
  return [configs, sets, skip_bad, rebuild_shard, device] {
    if (*skip_bad) sets->push_back("data.skip_bad=true");
    if (!device->empty()) sets->push_back("device=" + *device);
    const fas::ExperimentConfig cfg = fas::LoadExperimentConfig(*configs, *sets);
    fas::UseDevice(cfg.device);
    const int64_t n = fas::ExtractFeatures(cfg, *rebuild_shard);
    std::cout << "computed " << n << " feature entries in " << cfg.data.ResolvedCacheDir() << "\n";
  };
}

const bool kRegistered = fas::cli::RegisterCommand({"extract", "cache the features of frozen encoders", Setup});

}  // namespace
