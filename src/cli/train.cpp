// `fas train --config C [--set k=v ...] [--run-dir DIR] [--resume]`: trains an experiment into a run directory.
#include <iostream>

#include "command.h"
#include "fas/core/error.h"
#include "fas/train/ser_experiment.h"

namespace {

fas::cli::RunFn Setup(CLI::App& app) {
  struct Opts {
    std::vector<std::string> configs, sets;
    std::string run_dir;
    bool resume = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--config,-c", o->configs, "experiment config(s); later files override earlier ones");
  app.add_option("--set", o->sets, "override a key: a.b.c=value (wins over files)");
  app.add_option("--run-dir", o->run_dir, "run directory (default: runs/NAME)");
  app.add_flag("--resume", o->resume, "continue the run in --run-dir from checkpoints/last");
  return [o] {
    fas::ExperimentConfig cfg;
    if (!o->configs.empty()) {
      cfg = fas::LoadExperimentConfig(o->configs, o->sets);
    } else if (o->resume && !o->run_dir.empty()) {
      cfg = fas::LoadExperimentConfig({o->run_dir + "/config.yaml"}, o->sets);
    } else {
      throw fas::ConfigError("fas train needs --config (or --run-dir DIR --resume to continue a run)");
    }
    fas::TrainRunOptions ro;
    ro.run_dir = o->run_dir;
    ro.resume = o->resume;
    const fas::TrainSummary s = fas::TrainExperiment(cfg, ro);
    std::cout << "trained " << s.steps << " steps" << (s.early_stopped ? " (early stop)" : "");
    if (s.best_value) std::cout << "; best dev " << cfg.train.best_metric << " " << *s.best_value << " at step " << s.best_step;
    std::cout << "\n";
  };
}

const bool kRegistered = fas::cli::RegisterCommand({"train", "train a model from an experiment config", Setup});

}  // namespace
