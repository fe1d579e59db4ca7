// Forward time of an encoder under InferenceMode: for each (seconds, batch) case, `warmup` untimed runs then
// `repeats` timed ones; prints one JSON line a case with every time and the median (milliseconds), and the process
// CPU time of each timed run (all threads: at one thread the figure that stays put on a loaded machine).
//
// The encoder is the one a HuggingFace config.json names (model_type wav2vec2 / hubert / wavlm, or whisper), with
// the weights given or random ones. --device puts it on a GPU (the input is made there before the clock starts, so
// a case times the model, not the host-to-device copy); --precision bf16 casts its weights to bfloat16, as a
// transformers user's model.to(torch.bfloat16) does, and with --autocast keeps them float32 and runs the forward
// under autocast instead (fas/core/device.h), as `fas encode` and the feature store do. On a GPU each run
// is timed from a synchronised device to a synchronised device. Whisper reads a 16 kHz waveform (log-mel included)
// or, with --input features, random log-mel features of the window's shape (the encoder alone).
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/encoders/wav2vec2.h"
#include "fas/encoders/whisper.h"

namespace {

std::vector<double> ParseList(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stod(item));
  return out;
}

struct Args {
  std::string config, weights, seconds = "1,10", batch = "1,8", profile, device = "cpu", precision = "fp32",
                                   input = "waveform";
  int threads = 2, warmup = 1, repeats = 3;
  bool autocast = false;
};

const char* kUsage =
    "usage: bench_encoder --config config.json [--weights W.safetensors] [--seconds 1,10] [--batch 1,8] "
    "[--threads 2] [--warmup 1] [--repeats 3] [--device cpu|cuda|cuda:N] [--precision fp32|bf16] "
    "[--autocast] [--input waveform|features] [--profile trace.json]";

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--autocast") {
      a.autocast = true;
      continue;
    }
    if (i + 1 == argc) throw fas::ConfigError("option " + k + " needs a value; " + kUsage);
    const std::string v = argv[++i];
    if (k == "--config") a.config = v;
    else if (k == "--weights") a.weights = v;
    else if (k == "--seconds") a.seconds = v;
    else if (k == "--batch") a.batch = v;
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--warmup") a.warmup = std::stoi(v);
    else if (k == "--repeats") a.repeats = std::stoi(v);
    else if (k == "--profile") a.profile = v;
    else if (k == "--device") a.device = v;
    else if (k == "--precision") a.precision = v;
    else if (k == "--input") a.input = v;
    else throw fas::ConfigError("unknown option " + k + "; " + kUsage);
  }
  if (a.config.empty()) throw fas::ConfigError(kUsage);
  if (a.input != "waveform" && a.input != "features") {
    throw fas::ConfigError("--input must be waveform or features, not '" + a.input + "'");
  }
  return a;
}

std::string ModelType(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw fas::ConfigError(path + ": cannot open");
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("model_type") || !j["model_type"].is_string()) {
    throw fas::ConfigError(path + ": not a HuggingFace config.json with a string model_type");
  }
  return j["model_type"].get<std::string>();
}

// One forward of a batch: the module and how it makes its input for (seconds, batch).
struct Runner {
  std::shared_ptr<torch::nn::Module> module;
  std::function<torch::Tensor(double seconds, int64_t batch)> make_input;
  std::function<void(const torch::Tensor&)> forward;
};

Runner MakeRunner(const Args& args, const torch::Device& device) {
  const std::string type = ModelType(args.config);
  const auto waveform = [device](double seconds, int64_t batch) {
    return fas::ToDevice(torch::randn({batch, static_cast<int64_t>(seconds * 16000)}) * 0.1, device);
  };
  if (type == "whisper") {
    fas::WhisperEncoderConfig config;
    config.hf_config = args.config;
    config.weights = args.weights;
    config.freeze = true;
    auto encoder = fas::CreateWhisperEncoder(config);
    Runner r{encoder.ptr(), waveform, [encoder](const torch::Tensor& x) mutable { encoder->forward(x); }};
    if (args.input == "features") {
      const int64_t mels = encoder->config().num_mel_bins;
      // 100 log-mel frames a second (10 ms hop); ForwardFeatures casts them to the weights' dtype.
      r.make_input = [device, mels](double seconds, int64_t batch) {
        return fas::ToDevice(torch::randn({batch, mels, static_cast<int64_t>(seconds * 100)}), device);
      };
      r.forward = [encoder](const torch::Tensor& x) mutable { encoder->ForwardFeatures(x); };
    }
    return r;
  }
  if (args.input == "features") throw fas::ConfigError("--input features applies to a whisper config only");
  fas::AcousticEncoderConfig config;
  config.hf_config = args.config;
  config.weights = args.weights;
  config.freeze = "all";
  auto encoder = fas::CreateAcousticEncoder(config);
  return {encoder.ptr(), waveform, [encoder](const torch::Tensor& x) mutable { encoder->forward(x); }};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = Parse(argc, argv);
    fas::InitRuntime({args.threads});
    const torch::Device device = fas::UseDevice(args.device, "--device");
    const fas::Precision precision = fas::ParsePrecision(args.precision, "--precision");
    if (precision == fas::Precision::kFloat16) throw fas::ConfigError("--precision must be fp32 or bf16");
    Runner runner = MakeRunner(args, device);
    runner.module->to(device, args.autocast ? torch::kFloat32 : fas::PrecisionDtype(precision));
    runner.module->eval();
    c10::InferenceMode guard;
    const fas::Autocast autocast(device, args.autocast ? precision : fas::Precision::kFloat32);
    torch::manual_seed(0);
    // With --profile, LibTorch's autograd profiler records every operator of the timed runs (chrome://tracing
    // format; bench/common/profile_table.py sums it up); the times then include the profiler's overhead.
    std::optional<torch::autograd::profiler::RecordProfile> recording;
    for (double seconds : ParseList(args.seconds)) {
      for (double batch : ParseList(args.batch)) {
        const auto input = runner.make_input(seconds, static_cast<int64_t>(batch));
        std::vector<double> ms, cpu_ms;
        for (int r = 0; r < args.warmup + args.repeats; ++r) {
          if (r == args.warmup && !args.profile.empty() && !recording) recording.emplace(args.profile);
          fas::SynchronizeDevice(device);
          const auto t0 = std::chrono::steady_clock::now();
          const std::clock_t c0 = std::clock();
          runner.forward(input);
          fas::SynchronizeDevice(device);
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
            "{\"impl\": \"fas\", \"device\": \"%s\", \"precision\": \"%s\", \"autocast\": %s, \"input\": \"%s\", "
            "\"seconds\": %g, \"batch\": %g, \"median_ms\": %.2f, \"ms\": [%s], \"cpu_ms\": [%s]}\n",
            device.str().c_str(), args.precision.c_str(), args.autocast ? "true" : "false", args.input.c_str(),
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
