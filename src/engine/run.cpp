#include "fas/engine/run.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/core/log.h"
#include "fas/core/runtime.h"
#include "fas/engine/checkpoint_folder.h"
#include "fas/engine/determinism.h"
#include "fas/eval/run_info.h"
#include "fas/io/safetensors.h"
#include "fas/engine/distributed.h"

namespace fs = std::filesystem;

namespace fas {

int ResolveAccumulation(const TrainConfig& train, int batch_size, int ranks) {
  if (train.global_batch == 0) return train.accumulation;
  const int per_step = batch_size * ranks;
  if (per_step <= 0 || train.global_batch % per_step != 0) {
    throw ConfigError("train.global_batch " + std::to_string(train.global_batch) + " is not a multiple of " +
                      "data.batch_size " + std::to_string(batch_size) + " x " + std::to_string(ranks) +
                      " rank(s) (batching by count; with batching by seconds set train.accumulation instead)");
  }
  return train.global_batch / per_step;
}

TrainSummary TrainRun(Task& task, const TrainRunOptions& options) {
  RunContext run;
  run.run_dir = options.run_dir.empty() ? "runs/" + task.name() : options.run_dir;
  run.resume = options.resume;
  // The group forms first, so that a missing peer fails the run before any file is written.
  const DistributedEnv env = DistributedEnv::FromEnvironment();
  UseDevice(task.device(), "device", env.enabled() ? env.local_rank : -1, task.train_config().tf32);
  std::unique_ptr<DataParallel> parallel;
  if (env.enabled()) {
    if (!task.supports_data_parallel()) {
      throw ConfigError("task: " + task.kind() + " trains in one process; data-parallel training (WORLD_SIZE " +
                        std::to_string(env.world_size) + ", --nproc) is for task: ser");
    }
    spdlog::info("data-parallel rank {} of {} (local rank {}), rendezvous at {}:{}", env.rank, env.world_size,
                 env.local_rank, env.master_addr, env.master_port);
    parallel = std::make_unique<DataParallel>(
        env, ComputeDevice(),
        std::chrono::milliseconds(static_cast<int64_t>(task.train_config().distributed_timeout * 1000.0)));
    // One log: the other ranks say only what goes wrong.
    if (env.rank != 0) spdlog::set_level(spdlog::level::warn);
  }
  run.parallel = parallel.get();
  run.writer = env.rank == 0;

  const bool existing_run = !FindCheckpoint(run.run_dir + "/checkpoints/last").empty();
  if (parallel) parallel->Barrier();  // every rank has looked at the run folder before rank 0 writes to it
  const std::string config_path = run.run_dir + "/config.yaml";
  if (run.resume) {
    if (!fs::exists(config_path)) throw IoError("'" + run.run_dir + "' is not a run directory (no config.yaml)");
    task.AdoptRun(config_path, run.run_dir);
    if (run.writer) WriteFileAtomic(config_path, task.ResolvedConfig());  // the plan keys may have changed
  } else if (existing_run) {
    throw ConfigError("run directory '" + run.run_dir + "' already holds a run; continue it with --resume, or "
                      "choose another with --run-dir");
  }
  if (run.writer) {
    fs::create_directories(run.run_dir);
    LogToFile(run.run_dir + "/train.log");
  }
  const TrainConfig& given = task.train_config();
  if (given.threads > 0) InitRuntime({given.threads});
  if (given.deterministic) UseDeterministicKernels();  // before Prepare, whose feature extraction may use cuBLAS
  SeedEverything(task.seed());

  task.Prepare(run);
  const std::string run_info_path = run.run_dir + "/run.json";
  if (run.writer) {
    if (!run.resume) WriteFileAtomic(config_path, task.ResolvedConfig());
    RunInfo info = task.Describe();
    info.fas_version = FAS_VERSION;
    WriteRunInfo(run_info_path, info);
  }
  if (parallel) {
    parallel->Barrier();
    if (!run.writer && !run.resume) task.AdoptArtefacts(run);
  }

  TrainConfig tc = given;
  const int ranks = env.world_size;
  tc.accumulation = ResolveAccumulation(given, task.batch_size(), ranks);
  if (task.batch_size() > 0) {
    spdlog::info("global batch {} = {} a rank x {} rank(s) x {} accumulation step(s)",
                 task.batch_size() * ranks * tc.accumulation, task.batch_size(), ranks, tc.accumulation);
  } else {
    spdlog::info("global batch: batches sized by seconds of audio, x {} rank(s) x {} accumulation step(s)", ranks,
                 tc.accumulation);
  }
  TrainObjective& objective = task.Objective(run);
  if (!run.resume && run.writer) task.BeforeTraining(run);

  TrainerOptions to;
  to.run_dir = run.run_dir;
  to.seed = task.seed();
  to.resolved_config = task.ResolvedConfig();
  to.run_files = {run_info_path};
  to.on_step = options.on_step;
  to.parallel = parallel.get();
  Trainer trainer(tc, objective, to);
  TrainSummary summary = trainer.Run(run.resume);
  if (summary.interrupted) {
    throw Interrupted("training stopped at step " + std::to_string(summary.steps) + "; checkpoints/last saved; "
                      "continue with: fas train --run-dir " + run.run_dir + " --resume");
  }
  if (parallel) parallel->Barrier();  // rank 0 has written the last checkpoints
  const std::string checkpoint = CheckpointForEval(run.run_dir);
  objective.LoadWeights(checkpoint + "/model.safetensors");
  spdlog::info("evaluating {}", checkpoint);
  {
    const Autocast autocast(ComputeDevice(), ParsePrecision(tc.precision, "train.precision"));
    task.EvaluateFinal(run);
  }
  return summary;
}

}  // namespace fas
