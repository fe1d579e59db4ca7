// The tasks `fas train` runs, by an experiment config's `task:` (ser when the key is absent). A new task is its
// folder under src/tasks/ (a Task for the run engine, fas/engine/task.h) and one row in src/tasks/registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fas/engine/task.h"

namespace fas {

// The `task:` of an experiment given as files + --set assignments, read before the config is bound to its task's
// struct ("ser" when the key is absent).
std::string ExperimentTask(const std::vector<std::string>& files, const std::vector<std::string>& sets);

// The registered task names, in registry order.
std::vector<std::string> TaskNames();

// Binds files + --set assignments to the config struct of their `task:` and builds that task. `run_config`: the
// files are a run's own config.yaml (written by fas, possibly by an older one). An unknown task is a ConfigError
// listing the registered ones.
std::unique_ptr<Task> LoadTask(const std::vector<std::string>& files, const std::vector<std::string>& sets,
                               bool run_config = false);

}  // namespace fas
