// The feature store benchmark (docs/feature_store.md): extraction throughput and store size per hour of audio for
// the paper's two encoder shapes (random weights, real shapes), and the FAS head's epoch time read from a store.
//
//   bench_feature_store --manifest M --encoder wavlm-base-plus|whisper-large-v3 --utterances N --out DIR
//       `FeatureCache::Fill` (the path `fas extract` takes) over the first N utterances of M into DIR; prints one
//       JSON line: audio hours, seconds, hours of audio a minute, stored bytes a hour (and the frame-store format's).
//   bench_feature_store --epoch-hours H --out DIR [--device cpu|cuda] [--batch 32] [--global-batch 2048]
//                       [--precision fp32|bf16|fp16] [--profile T.json]
//       writes a store of H hours of random bfloat16 features of both shapes (13 x 768 patch means, 1 x 1280), then
//       times one epoch of the FAS head over it as the trainer runs it (batches of --batch (32) read ahead from the
//       mapped shards, layer mix, head, cross-entropy, backward, accumulated into the paper's global batch of 2048,
//       then AdamW) on the device, the forward under autocast at --precision; prints one JSON line with the epoch
//       seconds and that time scaled to 60 h. --profile T.json records the epoch's operators.
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "bench_util.h"
#include "fas/core/device.h"
#include "fas/core/runtime.h"
#include "fas/encoders/encoder.h"
#include "fas/engine/adamw.h"
#include "fas/fusion/fusion.h"
#include "fas/io/feature_shards.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/tasks/ser/feature_cache.h"
#include "fas/tasks/ser/ser_dataset.h"

namespace fs = std::filesystem;

namespace {

constexpr double kPatchesPerSecond = 10;  // 50 Hz frames, patches of 5
constexpr int64_t kAcousticStates = 13, kAcousticDim = 768, kSemanticDim = 1280, kClasses = 7;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

uint64_t StoreBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".safetensors") n += e.file_size();
  }
  return n;
}

// The paper's encoders as configs/suites/paper_encoders.yaml sets them up, with random weights.
std::vector<std::string> EncoderSets(const std::string& encoder, int whisper_layers) {
  if (encoder == "wavlm-base-plus") {
    return {"model.acoustic.encoder.type=wavlm",
            "model.acoustic.encoder.hidden_size=768",
            "model.acoustic.encoder.num_hidden_layers=12",
            "model.acoustic.encoder.num_attention_heads=12",
            "model.acoustic.encoder.intermediate_size=3072",
            "model.acoustic.encoder.feat_extract_norm=group",
            "model.acoustic.encoder.freeze=all",
            "model.acoustic.layers=[0,1,2,3,4,5,6,7,8,9,10,11,12]"};
  }
  if (encoder == "whisper-large-v3") {
    return {"model.semantic.type=whisper",
            "model.semantic.whisper.d_model=1280",
            "model.semantic.whisper.encoder_layers=" + std::to_string(whisper_layers),
            "model.semantic.whisper.encoder_attention_heads=20",
            "model.semantic.whisper.encoder_ffn_dim=5120",
            "model.semantic.whisper.num_mel_bins=128",
            "model.semantic.whisper.freeze=true",
            "model.semantic.whisper.framing=window",
            "model.semantic.layers=[-1]"};
  }
  throw fas::ConfigError("--encoder must be wavlm-base-plus or whisper-large-v3, got '" + encoder + "'");
}

void Extract(const fas::bench::Options& o) {
  const std::string encoder = o.str("encoder"), out = o.str("out");
  const int whisper_layers = o.integer("whisper-layers");
  fs::create_directories(out);
  // The first N lines of the manifest.
  std::ifstream in(o.str("manifest"));
  std::string slice, line;
  for (int n = 0; n < o.integer("utterances") && std::getline(in, line); ++n) slice += line + "\n";
  const std::string manifest = out + "/slice.jsonl";
  std::ofstream(manifest) << slice;
  const bool acoustic = encoder == "wavlm-base-plus";
  std::vector<std::string> sets = EncoderSets(encoder, whisper_layers);
  sets.insert(sets.end(), {"data.cache_dir=" + out + "/cache", "data.cache_dtype=" + o.str("dtype"),
                           "model.fusion.patch_aco=5", "model.fusion.patch_sem=5", "data.num_workers=2"});
  const fas::ExperimentConfig cfg = fas::LoadExperimentConfig(
      {std::string(FAS_SOURCE_DIR) + "/configs/models/" + (acoustic ? "acoustic_only.yaml" : "semantic_only.yaml")},
      sets);
  torch::manual_seed(0);
  fas::SerModel model = fas::BuildModel(cfg.model, fas::CanonicalLabels());
  fas::FeatureCache cache(cfg.data.ResolvedCacheDir(), model, cfg.data.loader, cfg.data.StoreOptions());
  const fas::SerDataset data(manifest, fas::CanonicalLabels(), fas::SerDatasetOptions{});
  const fas::CacheFillStats s = cache.Fill(data);
  const double hours = s.audio_seconds / 3600;
  const uint64_t bytes = StoreBytes(cache.StoreDir(!acoustic));
  // What the frame store held: every selected state at 50 Hz in float32.
  const double states = acoustic ? kAcousticStates : 1, dim = acoustic ? kAcousticDim : kSemanticDim;
  nlohmann::json j = {{"case", "extract"},
                      {"encoder", encoder},
                      {"whisper_layers", acoustic ? 0 : whisper_layers},
                      {"dtype", o.str("dtype")},
                      {"utterances", s.computed},
                      {"audio_hours", hours},
                      {"seconds", s.seconds},
                      {"audio_hours_per_minute", hours / (s.seconds / 60)},
                      {"store_gb_per_hour", bytes / hours / 1e9},
                      {"frame_store_gb_per_hour", 50 * 3600 * states * dim * 4 / 1e9},
                      {"threads", fas::IntraOpThreads()}};
  std::printf("%s\n", j.dump().c_str());
}

// Patches of utterances 2.5 s long on average (1 to 4 s) until `hours` of audio.
std::vector<int64_t> DrawPatches(double hours) {
  torch::manual_seed(1);
  std::vector<int64_t> patches;
  for (double total = 0; total < hours * 3600;) {
    const double seconds = 1.0 + 3.0 * torch::rand({1}).item<double>();
    total += seconds;
    patches.push_back(static_cast<int64_t>(seconds * kPatchesPerSecond + 0.999));
  }
  return patches;
}

// One stream's store of random bfloat16 patch means, entry i holding `patches[i]` patches.
void WriteStore(const std::string& dir, const std::vector<int64_t>& patches, int64_t states, int64_t dim) {
  fas::ShardStore store(dir, "");
  fas::NamedTensors shard;
  std::vector<std::string> ids;
  int64_t bytes = 0;
  for (size_t i = 0; i < patches.size(); ++i) {
    shard.emplace_back(std::to_string(i), torch::randn({states, patches[i], dim}).to(torch::kBFloat16));
    ids.push_back(shard.back().first);
    bytes += states * patches[i] * dim * 2;
    if (bytes >= (int64_t{256} << 20) || i + 1 == patches.size()) {
      store.AppendShard(shard, ids);
      shard.clear();
      ids.clear();
      bytes = 0;
    }
  }
}

// A batch of one stream from the mapped store: [B, S, P, D] float32 zero-padded, [B, P] mask.
std::pair<torch::Tensor, torch::Tensor> ReadBatch(const fas::ShardStore& store, const std::vector<int64_t>& items) {
  std::vector<torch::Tensor> views;
  int64_t longest = 0;
  for (int64_t i : items) {
    views.push_back(store.Get(std::to_string(i)));
    longest = std::max(longest, views.back().size(1));
  }
  const int64_t b = static_cast<int64_t>(items.size());
  torch::Tensor x = torch::empty({b, views[0].size(0), longest, views[0].size(2)});
  torch::Tensor m = torch::zeros({b, longest}, torch::kBool);
  for (int64_t k = 0; k < b; ++k) {
    const torch::Tensor& v = views[static_cast<size_t>(k)];
    x[k].narrow(1, 0, v.size(1)).copy_(v);
    x[k].narrow(1, v.size(1), longest - v.size(1)).zero_();
    m[k].narrow(0, 0, v.size(1)).fill_(true);
  }
  return {x, m};
}

struct Batch {
  torch::Tensor acoustic, acoustic_mask, semantic, semantic_mask;
};

void Epoch(const fas::bench::Options& o) {
  const std::string out = o.str("out");
  const double hours = std::stod(o.str("epoch-hours"));
  auto start = std::chrono::steady_clock::now();
  const std::vector<int64_t> patches = DrawPatches(hours);
  if (patches.empty()) throw fas::ConfigError("--epoch-hours " + o.str("epoch-hours") + " makes no utterance");
  WriteStore(out + "/acoustic", patches, kAcousticStates, kAcousticDim);
  WriteStore(out + "/semantic", patches, 1, kSemanticDim);
  const double write_seconds = Seconds(start);
  const fas::ShardStore acoustic(out + "/acoustic", ""), semantic(out + "/semantic", "");

  // The paper's head and protocol (configs/suites/paper_encoders.yaml, FusionConfig's defaults): d 512, k 8 / 16,
  // N_q 2, 8 heads, MLP 2 d, dropout 0.4; AdamW, batches of --batch accumulated into the global batch of 2048.
  const fas::FusionConfig c;
  const int64_t batch = o.integer("batch");
  if (batch < 1 || o.integer("global-batch") < batch || o.integer("global-batch") % batch != 0) {
    throw fas::ConfigError("--batch must be >= 1 and --global-batch a multiple of it");
  }
  const int64_t accumulation = o.integer("global-batch") / batch;
  const torch::Device device = fas::UseDevice(o.str("device"), "--device");
  const fas::Precision precision = fas::ParsePrecision(o.str("precision"), "--precision");
  auto head = fas::MakeFusionHead("fas", c, kAcousticDim, kSemanticDim, kClasses);
  fas::LayerWeightedSum mix(kAcousticStates);
  head->to(device);
  mix->to(device);
  std::vector<torch::Tensor> params = head->parameters();
  for (const auto& p : mix->parameters()) params.push_back(p);
  fas::FusedAdamW opt(params, torch::optim::AdamWOptions(2e-4).weight_decay(1e-4));
  head->train();
  // Length-bucketed batches, as the loader plans them.
  std::vector<int64_t> order(patches.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return patches[a] < patches[b]; });
  auto read = [&](size_t first) {
    const std::vector<int64_t> items(order.begin() + static_cast<int64_t>(first),
                                     order.begin() + static_cast<int64_t>(std::min(order.size(), first + batch)));
    auto [a, am] = ReadBatch(acoustic, items);
    auto [s, sm] = ReadBatch(semantic, items);
    return Batch{a, am, s, sm};
  };
  // With --profile, LibTorch's autograd profiler records the epoch's operators (bench/common/profile_table.py sums
  // them up); the epoch time then includes the profiler's overhead.
  std::optional<torch::autograd::profiler::RecordProfile> recording;
  if (!o.str("profile").empty()) recording.emplace(o.str("profile"));
  start = std::chrono::steady_clock::now();
  // As the trainer: the next batch is read from the mapped shards on a thread while this one computes; what is
  // left of the reading shows as the wait.
  std::future<Batch> ahead = std::async(std::launch::async, read, size_t{0});
  double wait_seconds = 0;
  int64_t steps = 0, optimizer_steps = 0, examples = 0;
  for (size_t first = 0; first < order.size(); first += static_cast<size_t>(batch)) {
    const auto wait = std::chrono::steady_clock::now();
    const Batch b = ahead.get();
    wait_seconds += Seconds(wait);
    const size_t next = first + static_cast<size_t>(batch);
    if (next < order.size()) ahead = std::async(std::launch::async, read, next);
    const auto a = fas::ToDevice(b.acoustic, device), am = fas::ToDevice(b.acoustic_mask, device);
    const auto s = fas::ToDevice(b.semantic, device), sm = fas::ToDevice(b.semantic_mask, device);
    fas::FusionInput in{mix->Stacked(a), am, s.select(1, 0), sm};
    in.acoustic_patched = in.semantic_patched = true;
    const int64_t n = a.size(0);
    const torch::Tensor labels = torch::randint(0, kClasses, {n}, torch::dtype(torch::kLong).device(device));
    torch::Tensor logits;
    {
      const fas::Autocast autocast(device, precision);
      logits = head->Forward(in).logits;
    }
    const torch::Tensor loss = torch::nn::functional::cross_entropy(
        logits.to(torch::kFloat), labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    loss.backward();
    examples += n;
    ++steps;
    if (steps % accumulation == 0 || next >= order.size()) {
      // The trainer's update: the mean over the global batch folded into the optimizer's gradient scale.
      opt.set_grad_scale(1.0 / static_cast<double>(examples));
      opt.step();
      opt.zero_grad();
      examples = 0;
      ++optimizer_steps;
    }
  }
  fas::SynchronizeDevice(device);
  const double epoch = Seconds(start);
  recording.reset();
  nlohmann::json j = {{"case", "epoch"},
                      {"audio_hours", hours},
                      {"utterances", patches.size()},
                      {"batch", batch},
                      {"batches", steps},
                      {"optimizer_steps", optimizer_steps},
                      {"store_write_seconds", write_seconds},
                      {"epoch_seconds", epoch},
                      {"read_wait_seconds", wait_seconds},
                      {"epoch_seconds_60h", epoch * 60 / hours},
                      {"store_gb", (StoreBytes(out + "/acoustic") + StoreBytes(out + "/semantic")) / 1e9},
                      {"threads", fas::IntraOpThreads()},
                      {"precision", fas::PrecisionName(precision)},
                      {"device", fas::DescribeDevice(device)}};
  std::printf("%s\n", j.dump().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const fas::bench::Options o(argc, argv,
                                {{"manifest", ""},
                                 {"encoder", ""},
                                 {"utterances", "40"},
                                 {"out", ""},
                                 {"dtype", "bfloat16"},
                                 {"whisper-layers", "32"},
                                 {"epoch-hours", ""},
                                 {"device", "cpu"},
                                 {"profile", ""},
                                 {"global-batch", "2048"},
                                 {"batch", "32"},
                                 {"precision", "fp32"},
                                 {"threads", "2"}},
                                "bench_feature_store (--manifest M --encoder E [--utterances N] | --epoch-hours H) "
                                "--out DIR [--dtype bfloat16] [--whisper-layers 32] [--threads 2] [--device cpu] "
                                "[--batch 32] [--global-batch 2048] [--precision fp32|bf16|fp16] "
                                "[--profile trace.json]");
    fas::InitRuntime({o.integer("threads")});
    if (o.has("epoch-hours")) {
      Epoch(o);
    } else {
      Extract(o);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
