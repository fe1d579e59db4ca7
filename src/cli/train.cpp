// `fas train --config C [--set k=v ...] [--run-dir DIR] [--resume] [--nproc N]`: trains an experiment into a run
// directory; with --nproc, as N data-parallel worker processes on this machine.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

#include "command.h"
#include "fas/config/node.h"
#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/engine/run.h"
#include "fas/engine/distributed.h"
#include "fas/tasks/registry.h"

namespace {

// This process's own command line (/proc/self/cmdline), for the workers --nproc starts: the same arguments
// without --nproc, and with --threads set so that the workers share the cores instead of each taking all.
std::vector<std::string> WorkerArguments(int nproc) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t start = 0; start < raw.size();) {
    const size_t end = raw.find('\0', start);
    args.push_back(raw.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  std::vector<std::string> out;
  bool threads_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    if (args[i] == "--threads" || args[i].rfind("--threads=", 0) == 0) threads_given = true;
    out.push_back(args[i]);
  }
  if (!threads_given) {
    out.push_back("--threads");
    out.push_back(std::to_string(std::max(1, fas::AvailableCores() / nproc)));
  }
  return out;
}

fas::cli::RunFn Setup(CLI::App& app) {
  struct Opts {
    std::vector<std::string> configs, sets;
    std::string run_dir, device;
    bool resume = false, skip_bad = false;
    int nproc = 1;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--config,-c", o->configs, "experiment config(s); later files override earlier ones");
  app.add_option("--set", o->sets, "override a key: a.b.c=value (wins over files)");
  app.add_option("--run-dir", o->run_dir, "run directory (default: runs/NAME)");
  app.add_flag("--resume", o->resume, "continue the run in --run-dir from checkpoints/last");
  fas::cli::AddDeviceOption(app, o->device);
  app.add_flag("--skip-bad", o->skip_bad, "skip bad manifest lines and unusable audio, listed and counted (= --set "
                                          "data.skip_bad=true)");
  app.add_option("--nproc", o->nproc,
                 "data-parallel worker processes to start on this machine (for several machines, start fas train "
                 "on each with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set, as torchrun does)")
      ->check(CLI::Range(1, 1024));
  return [o] {
    if (o->skip_bad) o->sets.push_back("data.skip_bad=true");
    if (!o->device.empty()) o->sets.push_back("device=" + o->device);
    if (o->configs.empty() && !(o->resume && !o->run_dir.empty())) {
      throw fas::ConfigError("fas train needs --config (or --run-dir DIR --resume to continue a run)");
    }
    const bool run_config = o->configs.empty();
    const std::vector<std::string> files = run_config ? std::vector<std::string>{o->run_dir + "/config.yaml"}
                                                      : o->configs;
    if (o->nproc > 1) {
      if (std::getenv("RANK") != nullptr || std::getenv("WORLD_SIZE") != nullptr) {
        throw fas::ConfigError("--nproc starts its own workers, but RANK / WORLD_SIZE are already set (a launcher "
                               "such as torchrun or srun started this process): drop --nproc");
      }
      // The launcher checks the GPUs before any worker starts: one a worker.
      const fas::ConfigNode tree = fas::LoadConfigTree(files, o->sets);
      const fas::ConfigNode* device = tree.Find("device");
      fas::LaunchLocalWorkers(o->nproc, WorkerArguments(o->nproc), device != nullptr ? device->scalar : "auto");
      return;
    }
    const std::unique_ptr<fas::Task> task = fas::LoadTask(files, o->sets, run_config);
    const fas::TrainSummary s = fas::TrainRun(*task, {o->run_dir, o->resume, {}});
    if (fas::DistributedEnv::FromEnvironment().rank != 0) return;  // rank 0 reports for the group
    std::cout << "trained " << s.steps << " steps" << (s.early_stopped ? " (early stop)" : "");
    if (s.best_value) {
      std::cout << "; best dev " << task->train_config().best_metric << " " << *s.best_value << " at step "
                << s.best_step;
    }
    std::cout << "\n";
  };
}

const bool kRegistered = fas::cli::RegisterCommand({"train", "train a model from an experiment config", Setup});

}  // namespace
