// The training loop on a tiny real model (an MLP with dropout, so the RNG matters) over generated data.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/train/stop_signal.h"
#include "fas/train/trainer.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::ReadFile;
using fas::testing::TempDir;

namespace {

struct MlpImpl : torch::nn::Module {
  torch::nn::Linear encoder{nullptr}, head{nullptr};
  torch::nn::Dropout dropout{nullptr};
  MlpImpl() {
    encoder = register_module("encoder", torch::nn::Linear(4, 16));
    dropout = register_module("dropout", torch::nn::Dropout(0.3));
    head = register_module("head", torch::nn::Linear(16, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) { return head(dropout(torch::relu(encoder(x)))); }
};
TORCH_MODULE(Mlp);

// Separable 3-class data; `nan_batches` are batch indices (in every epoch) whose inputs are NaN.
class TinyObjective : public fas::TrainObjective {
 public:
  TinyObjective(uint64_t seed, int64_t batch_size, std::vector<int64_t> nan_batches = {})
      : seed_(seed), batch_size_(batch_size), nan_batches_(std::move(nan_batches)) {
    torch::manual_seed(seed);
    model_ = Mlp();
    auto gen = torch::make_generator<at::CPUGeneratorImpl>(1234);
    const torch::Tensor w = torch::randn({4, 3}, gen);
    x_ = torch::randn({48, 4}, gen);
    y_ = torch::matmul(x_, w).argmax(1);
    dev_x_ = torch::randn({24, 4}, gen);
    dev_y_ = torch::matmul(dev_x_, w).argmax(1);
  }

  torch::nn::Module& model() override { return *model_; }
  std::vector<fas::ParamGroup> ParameterGroups(const fas::TrainConfig& c) override {
    return {{"encoder", model_->encoder->parameters(), c.encoder_lr}, {"head", model_->head->parameters(), c.lr}};
  }
  int64_t BatchesInEpoch(int64_t) override { return (x_.size(0) + batch_size_ - 1) / batch_size_; }
  void StartEpoch(int64_t epoch, int64_t first) override {
    order_.resize(static_cast<size_t>(x_.size(0)));
    std::iota(order_.begin(), order_.end(), 0);
    std::mt19937_64 rng(fas::DeriveSeed(seed_, "epoch " + std::to_string(epoch)));
    std::shuffle(order_.begin(), order_.end(), rng);
    next_ = first;
  }
  std::optional<fas::BatchLoss> NextBatch() override {
    const int64_t begin = next_ * batch_size_;
    if (begin >= x_.size(0)) return std::nullopt;
    const int64_t end = std::min<int64_t>(begin + batch_size_, x_.size(0));
    auto idx = torch::tensor(std::vector<int64_t>(order_.begin() + begin, order_.begin() + end));
    torch::Tensor x = x_.index_select(0, idx);
    if (std::count(nan_batches_.begin(), nan_batches_.end(), next_)) x = x * std::nan("");
    ++next_;
    ++batches_seen;
    return fas::BatchLoss{torch::nn::functional::cross_entropy(model_->forward(x), y_.index_select(0, idx)),
                          end - begin};
  }
  std::map<std::string, double> EvaluateDev() override {
    const auto logits = model_->forward(dev_x_);
    ++evaluations;
    return {{"loss", torch::nn::functional::cross_entropy(logits, dev_y_).item<double>()},
            {"acc", logits.argmax(1).eq(dev_y_).to(torch::kDouble).mean().item<double>()}};
  }
  void SaveWeights(const std::string& path) override { torch::save(model_, path); }
  void LoadWeights(const std::string& path) override { torch::load(model_, path); }

  torch::Tensor Flat() const {
    std::vector<torch::Tensor> parts;
    for (const auto& p : model_->parameters()) parts.push_back(p.detach().flatten());
    return torch::cat(parts);
  }

  int64_t batches_seen = 0;
  int evaluations = 0;

 private:
  uint64_t seed_;
  int64_t batch_size_;
  std::vector<int64_t> nan_batches_;
  Mlp model_{nullptr};
  torch::Tensor x_, y_, dev_x_, dev_y_;
  std::vector<int64_t> order_;
  int64_t next_ = 0;
};

fas::TrainConfig TinyConfig() {
  fas::TrainConfig c;
  c.lr = 0.05;
  c.encoder_lr = 0.02;
  c.epochs = 4;
  c.eval_every = 5;
  c.log_every = 1;
  c.best_metric = "acc";
  c.warmup = 0.2;
  c.accumulation = 2;
  return c;
}

fas::TrainerOptions Options(const std::string& dir) {
  fas::TrainerOptions o;
  o.run_dir = dir;
  o.seed = 7;
  o.resolved_config = "seed: 7\n";
  return o;
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(TrainerTest, TrainsWritesRunFilesAndLowersDevLoss) {
  TempDir d;
  TinyObjective obj(7, 4);
  const double before = obj.EvaluateDev().at("loss");
  fas::Trainer trainer(TinyConfig(), obj, Options(d.path()));
  const fas::TrainSummary s = trainer.Run(false);
  EXPECT_EQ(trainer.steps_per_epoch(), 6);  // 12 batches, accumulation 2
  EXPECT_EQ(s.steps, 24);
  EXPECT_EQ(s.epochs_completed, 4);
  EXPECT_EQ(obj.batches_seen, 48);
  EXPECT_LT(s.last_dev.at("loss"), before);
  for (const char* f : {"model.safetensors", "optimizer.pt", "trainer_state.json", "config.yaml"}) {
    EXPECT_TRUE(fs::exists(d / "checkpoints/last/" + f)) << f;
    EXPECT_TRUE(fs::exists(d / "checkpoints/best/" + f)) << f;
  }
  const auto state = nlohmann::json::parse(ReadFile(d / "checkpoints/last/trainer_state.json"));
  EXPECT_EQ(state["step"], 24);
  EXPECT_EQ(state["seed"], 7);
  std::ifstream in(d / "metrics.jsonl");
  int steps = 0, evals = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("event", "") == "eval") ++evals;
    else if (!j.contains("event")) ++steps;
  }
  EXPECT_EQ(steps, 24);
  EXPECT_EQ(evals, 5);  // steps 5, 10, 15, 20 and the final one at 24
}

// Stopped after step k (as SIGINT would) and resumed: the same weights, bit for bit, as an uninterrupted run.
TEST_F(TrainerTest, ResumedRunEndsWithTheSameWeightsBitwise) {
  TempDir full_dir, split_dir;
  TinyObjective full(7, 4);
  fas::Trainer(TinyConfig(), full, Options(full_dir.path())).Run(false);

  for (int64_t stop_at : {7, 12}) {  // mid-epoch (odd batch of accumulation) and at an epoch boundary
    TempDir dir;
    {
      TinyObjective first(7, 4);
      fas::TrainerOptions o = Options(dir.path());
      o.on_step = [stop_at](int64_t step) {
        if (step == stop_at) fas::RequestStop();
      };
      const fas::TrainSummary s = fas::Trainer(TinyConfig(), first, o).Run(false);
      EXPECT_TRUE(s.interrupted);
      EXPECT_EQ(s.steps, stop_at);
    }
    torch::manual_seed(999);  // a fresh process would start from another RNG state
    TinyObjective second(7, 4);
    const fas::TrainSummary s = fas::Trainer(TinyConfig(), second, Options(dir.path())).Run(true);
    EXPECT_FALSE(s.interrupted);
    EXPECT_EQ(s.steps, 24);
    EXPECT_TRUE(torch::equal(second.Flat(), full.Flat())) << "stopped at " << stop_at;
    EXPECT_EQ(ReadFile(dir / "checkpoints/best/trainer_state.json"),
              ReadFile(full_dir / "checkpoints/best/trainer_state.json"));
  }
}

// Killed after `last` was committed as a new best but before its copy to `best` was (here at the first evaluation,
// so there is no `best` yet; later ones do not improve): the resumed run makes the copy and ends with the
// uninterrupted run's `best`.
TEST_F(TrainerTest, ResumeRestoresABestCopyThatWasCutShort) {
  fas::TrainConfig c = TinyConfig();
  c.lr = 1e-12;  // nothing improves after the first evaluation
  c.encoder_lr = 1e-12;
  c.eval_every = 2;
  c.max_steps = 8;
  c.best_metric = "loss";
  c.early_stopping.min_delta = 1e-3;
  TempDir full_dir, dir;
  {
    TinyObjective full(7, 4);
    EXPECT_EQ(fas::Trainer(c, full, Options(full_dir.path())).Run(false).best_step, 2);
  }
  {
    TinyObjective first(7, 4);
    fas::TrainerOptions o = Options(dir.path());
    o.on_step = [](int64_t step) {
      if (step == 2) fas::RequestStop();
    };
    EXPECT_TRUE(fas::Trainer(c, first, o).Run(false).interrupted);
  }
  fs::remove_all(dir / "checkpoints/best");
  TinyObjective second(7, 4);
  EXPECT_EQ(fas::Trainer(c, second, Options(dir.path())).Run(true).steps, 8);
  ASSERT_TRUE(fs::exists(dir / "checkpoints/best/trainer_state.json"));
  EXPECT_EQ(ReadFile(dir / "checkpoints/best/trainer_state.json"),
            ReadFile(full_dir / "checkpoints/best/trainer_state.json"));
}

TEST_F(TrainerTest, ResumeWithoutCheckpointIsAClearError) {
  TempDir d;
  TinyObjective obj(7, 4);
  try {
    fas::Trainer(TinyConfig(), obj, Options(d.path())).Run(true);
    FAIL() << "expected an error";
  } catch (const fas::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("nothing to resume"), std::string::npos);
  }
}

// Accumulating 2 batches of 4 is one step on the mean gradient of those 8 examples.
TEST_F(TrainerTest, AccumulationEqualsTheLargerBatch) {
  fas::TrainConfig c = TinyConfig();
  c.max_steps = 1;
  c.warmup = 0;
  c.eval_every = 0;
  TempDir a, b;
  TinyObjective small(7, 4), large(7, 8);
  small.model().eval();  // dropout off in both so the forward passes are identical
  c.accumulation = 2;
  fas::TrainerOptions oa = Options(a.path());
  fas::Trainer ta(c, small, oa);
  // The trainer puts the model in training mode; a dropout of 0 keeps the comparison exact.
  for (auto* m : {&small, &large}) {
    for (auto& mod : m->model().modules()) {
      if (auto* dr = mod->as<torch::nn::DropoutImpl>()) dr->options.p(0.0);
    }
  }
  ta.Run(false);
  c.accumulation = 1;
  fas::Trainer(c, large, Options(b.path())).Run(false);
  EXPECT_TRUE(torch::allclose(small.Flat(), large.Flat(), 1e-6, 1e-7));
}

TEST_F(TrainerTest, NonFiniteStepsAreSkippedThenFailClearly) {
  fas::TrainConfig c = TinyConfig();
  c.accumulation = 1;
  c.max_nonfinite_steps = 3;
  {
    TempDir d;
    TinyObjective obj(7, 4, {2, 3});  // two bad batches an epoch: skipped, training goes on
    const fas::TrainSummary s = fas::Trainer(c, obj, Options(d.path())).Run(false);
    EXPECT_EQ(s.skipped_steps, 8);
    EXPECT_TRUE(torch::isfinite(obj.Flat()).all().item<bool>());
  }
  {
    TempDir d;
    TinyObjective obj(7, 4, {2, 3, 4});  // three in a row: a clear error
    try {
      fas::Trainer(c, obj, Options(d.path())).Run(false);
      FAIL() << "expected an error";
    } catch (const fas::Error& e) {
      EXPECT_NE(std::string(e.what()).find("3 optimizer steps in a row"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("step 5"), std::string::npos) << e.what();
    }
  }
}

TEST_F(TrainerTest, EarlyStoppingEndsTheRunAfterPatience) {
  fas::TrainConfig c = TinyConfig();
  c.lr = 1e-12;  // nothing improves
  c.encoder_lr = 1e-12;
  c.epochs = 50;
  c.eval_every = 2;
  c.best_metric = "loss";
  c.early_stopping.patience = 3;
  c.early_stopping.min_delta = 1e-3;
  TempDir d;
  TinyObjective obj(7, 4);
  const fas::TrainSummary s = fas::Trainer(c, obj, Options(d.path())).Run(false);
  EXPECT_TRUE(s.early_stopped);
  EXPECT_EQ(obj.evaluations, 4);  // the first sets the best, three more without improvement
  EXPECT_EQ(s.steps, 8);
  EXPECT_EQ(s.best_step, 2);
}

TEST_F(TrainerTest, UnknownBestMetricNamesTheKnownOnes) {
  fas::TrainConfig c = TinyConfig();
  c.best_metric = "f2";
  TempDir d;
  TinyObjective obj(7, 4);
  try {
    fas::Trainer(c, obj, Options(d.path())).Run(false);
    FAIL();
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("known: acc, loss"), std::string::npos) << e.what();
  }
}

TEST(TrainConfig, ValidateNamesTheKey) {
  fas::TrainConfig c;
  c.schedule = "step";
  EXPECT_THROW(c.Validate(), fas::ConfigError);
  c = fas::TrainConfig();
  c.label_smoothing = 1.5;
  try {
    c.Validate();
    FAIL();
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.label_smoothing"), std::string::npos);
  }
}

}  // namespace
