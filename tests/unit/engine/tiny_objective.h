// A tiny real training problem for the engine's tests: an MLP with dropout (so the RNG matters) over generated,
// separable 3-class data.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fas/core/runtime.h"
#include "fas/engine/trainer.h"

namespace fas::testing {

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

inline fas::TrainConfig TinyConfig() {
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


}  // namespace fas::testing
