// Forward time of an acoustic encoder under InferenceMode: for each (seconds, batch) case, `warmup` untimed runs
// then `repeats` timed ones; prints one JSON line a case with every time and the median (milliseconds), and the
// process CPU time of each timed run (all threads: at one thread the figure that stays put on a loaded machine).
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/encoders/wav2vec2.h"

namespace {

std::vector<double> ParseList(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stod(item));
  return out;
}

struct Args {
  std::string config, weights, seconds = "1,10", batch = "1,8", profile;
  int threads = 2, warmup = 1, repeats = 3;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--config") a.config = v;
    else if (k == "--weights") a.weights = v;
    else if (k == "--seconds") a.seconds = v;
    else if (k == "--batch") a.batch = v;
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--warmup") a.warmup = std::stoi(v);
    else if (k == "--repeats") a.repeats = std::stoi(v);
    else if (k == "--profile") a.profile = v;
    else throw fas::ConfigError("unknown option " + k);
  }
  if (a.config.empty()) {
    throw fas::ConfigError(
        "usage: bench_encoder --config config.json [--weights W.safetensors] [--seconds 1,10] [--batch 1,8] "
        "[--threads 2] [--warmup 1] [--repeats 3] [--profile trace.json]");
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = Parse(argc, argv);
    fas::InitRuntime({args.threads});
    fas::AcousticEncoderConfig config;
    config.hf_config = args.config;
    config.weights = args.weights;
    config.freeze = "all";
    auto encoder = fas::CreateAcousticEncoder(config);
    encoder->eval();
    c10::InferenceMode guard;
    torch::manual_seed(0);
    // With --profile, LibTorch's autograd profiler records every operator of the timed runs (chrome://tracing
    // format; bench/common/profile_table.py sums it up); the times then include the profiler's overhead.
    std::optional<torch::autograd::profiler::RecordProfile> recording;
    for (double seconds : ParseList(args.seconds)) {
      for (double batch : ParseList(args.batch)) {
        auto wave = torch::randn({static_cast<int64_t>(batch), static_cast<int64_t>(seconds * 16000)}) * 0.1;
        std::vector<double> ms, cpu_ms;
        for (int r = 0; r < args.warmup + args.repeats; ++r) {
          if (r == args.warmup && !args.profile.empty() && !recording) recording.emplace(args.profile);
          const auto t0 = std::chrono::steady_clock::now();
          const std::clock_t c0 = std::clock();
          auto out = encoder->forward(wave);
          const double c = 1000.0 * static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
          const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          if (r >= args.warmup) {
            ms.push_back(t);
            cpu_ms.push_back(c);
          }
        }
        std::vector<double> sorted = ms;
        std::sort(sorted.begin(), sorted.end());
        auto join = [](const std::vector<double>& v) {
          std::string list;
          for (double t : v) list += (list.empty() ? "" : ", ") + std::to_string(t);
          return list;
        };
        std::printf(
            "{\"impl\": \"fas\", \"seconds\": %g, \"batch\": %g, \"median_ms\": %.2f, \"ms\": [%s], "
            "\"cpu_ms\": [%s]}\n",
            seconds, batch, sorted[sorted.size() / 2], join(ms).c_str(), join(cpu_ms).c_str());
        std::fflush(stdout);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
