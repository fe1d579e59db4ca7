// `fas doctor`: what this machine gives the framework (LibTorch and its CUDA, the GPUs and what they compute,
// BLAS and OpenMP runtime, threads, allocator, optional tools).
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <sstream>
#include <iostream>
#include <map>
#include <set>

#include "command.h"
#include "fas/core/device.h"
#include "fas/core/error_text.h"
#include "fas/core/gpu_info.h"
#include "fas/core/runtime.h"
#include "fas/encoders/kernels/onednn_linear.h"
#include "fas/text/sentencepiece.h"

namespace fs = std::filesystem;

namespace {

// Libraries mapped into this process whose file name contains one of `needles` (what the loader really loaded,
// not what a package manager believes).
std::set<std::string> MappedLibraries(std::initializer_list<const char*> needles) {
  std::set<std::string> found;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = fs::path(path).filename().string();
    for (const char* needle : needles) {
      if (name.find(needle) == std::string::npos) continue;
      std::error_code ec;
      const auto real = fs::canonical(path, ec);
      found.insert(ec ? path : real.string());
    }
  }
  return found;
}

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// LibTorch's build settings (the line "Build settings: KEY=VALUE, ..." of at::show_config()), e.g. CUDA_VERSION,
// CUDNN_VERSION, BLAS_INFO: the versions LibTorch was built with, which a header macro cannot tell for CUDA.
std::map<std::string, std::string> BuildSettings(const std::string& config) {
  std::map<std::string, std::string> out;
  const auto at = config.find("Build settings:");
  if (at == std::string::npos) return out;
  std::stringstream ss(config.substr(at + 15, config.find('\n', at) - at - 15));
  for (std::string item; std::getline(ss, item, ',');) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) continue;
    const auto trim = [](std::string v) {
      v.erase(0, v.find_first_not_of(' '));
      v.erase(v.find_last_not_of(' ') + 1);
      return v;
    };
    out[trim(item.substr(0, eq))] = trim(item.substr(eq + 1));
  }
  return out;
}

// The first line of at::show_config() that mentions `needle` (MKL's and oneDNN's own version lines).
std::string ConfigLine(const std::string& config, const std::string& needle) {
  std::stringstream ss(config);
  for (std::string line; std::getline(ss, line);) {
    if (line.find(needle) == std::string::npos) continue;
    line.erase(0, line.find_first_not_of(" -"));
    return line;
  }
  return "";
}

// FLOP/s of `product` (`flop` a call): the median of `repeats` timed calls after `warmups` (the thread pool and
// page faults on the CPU; clocks and cuBLAS's choice of kernel on a GPU).
double MeasureFlops(const std::function<void()>& product, double flop, const torch::Device& device, int warmups,
                    int repeats) {
  for (int i = 0; i < warmups; ++i) product();
  fas::SynchronizeDevice(device);
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    product();
    fas::SynchronizeDevice(device);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return flop / times[times.size() / 2];
}

// n x n x n matmuls of `options`' dtype on its device, in FLOP/s. Random normal inputs: zeros would let the tensor
// cores idle at a power no real model sees.
double MeasureMatmulFlops(const torch::TensorOptions& options, int n, int warmups, int repeats) {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
  auto c = torch::matmul(a, b);
  return MeasureFlops([&] { torch::matmul_out(c, a, b); }, 2.0 * n * n * n, options.device(), warmups - 1, repeats);
}

// The same product through oneDNN's inner product on a weight reordered once, the route encoder inference takes
// on the CPU (fas/encoders/kernels/onednn_linear.h); 0 when this LibTorch has no oneDNN.
double MeasureOneDnnFlops(int n, int warmups, int repeats) {
  c10::InferenceMode inference;
  auto x = torch::randn({n, n}), w = torch::randn({n, n});
  if (!fas::kernels::OneDnnLinear::Applies(true, x)) return 0;
  fas::kernels::OneDnnLinear linear;
  const torch::Tensor none;
  return MeasureFlops([&] { linear(x, w, none, {w}); }, 2.0 * n * n * n, torch::kCPU, warmups, repeats);
}

std::string Which(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(ss, dir, ':');) {
    const fs::path p = fs::path(dir) / tool;
    if (fs::exists(p)) return p.string();
  }
  return "";
}

void Report(const std::string& key, const std::string& value) {
  std::cout << std::left << std::setw(22) << (key + ":") << value << "\n";
}

fas::cli::RunFn Setup(CLI::App& app) {
  auto size = std::make_shared<int>(2048);
  app.add_option("--matmul-size", *size, "square matmul size for the GFLOP/s figure")->check(CLI::Range(64, 8192));
  return [size] {
    Report("fas", FAS_VERSION);
    const std::string config = at::show_config();
    const auto settings = BuildSettings(config);
    const auto setting = [&](const char* key) { return settings.count(key) ? settings.at(key) : std::string(); };
    Report("libtorch", std::string(TORCH_VERSION) + " (" +
                           (setting("USE_CUDA") == "ON"
                                ? "CUDA " + setting("CUDA_VERSION") + ", cuDNN " + setting("CUDNN_VERSION") + ")"
                                : std::string("CPU only)")));
    if (fas::CudaBuild()) {
      // What the loader really loaded, which can differ from what LibTorch was built with.
      const fas::CudaVersions v = fas::LoadedCudaVersions();
      const auto or_none = [](const std::string& version, const char* none) {
        return version.empty() ? std::string(none) : version;
      };
      Report("cuda runtime", or_none(v.runtime, "not loaded"));
      Report("cuda driver", or_none(v.driver, "none (no NVIDIA driver loaded)"));
      Report("cudnn", or_none(v.cudnn, "not loaded"));
      Report("nccl", or_none(v.nccl, "not loaded"));
    }
    const std::vector<fas::GpuInfo> gpus = fas::ListGpus();
    Report("gpus", gpus.empty() ? std::string("none visible") : std::to_string(gpus.size()) + " visible");
    for (const fas::GpuInfo& g : gpus) {
      Report("gpu " + std::to_string(g.index), g.name + ", " + fas::FormatGib(g.total_bytes) + " (" + fas::FormatGib(g.free_bytes) +
                                                   " free), compute capability " + std::to_string(g.major) + "." +
                                                   std::to_string(g.minor) + ", " +
                                                   std::to_string(g.multiprocessors) + " SMs");
    }
    const torch::Device device = fas::ResolveDevice("auto");
    Report("device (auto)", fas::DescribeDevice(device));
    if (fas::CudaBuild()) {
      // LibTorch's own setting in this process; a run turns TF32 on where train.tf32 is true (the default).
      const auto on = [](bool b) { return b ? "on" : "off"; };
      Report("tf32", std::string("matmul ") + on(at::globalContext().allowTF32CuBLAS()) + ", cuDNN " +
                         on(at::globalContext().allowTF32CuDNN()) + " (runs: train.tf32, default on)");
    }
    Report("intra-op threads", std::to_string(fas::IntraOpThreads()) + " (cores available: " +
                                   std::to_string(fas::AvailableCores()) + ")");
    Report("allocator", fas::AllocatorTuned() ? "tuned (M_MMAP_MAX=0, M_TRIM_THRESHOLD=2^31-1)" : "glibc default");
    const double gflops = MeasureMatmulFlops(torch::TensorOptions(), *size, 1, 5) / 1e9;
    // MKL is linked into libtorch_cpu in the PyPI wheel, so no BLAS file shows in the process's maps: the build
    // setting and MKL's own version line say which BLAS runs; a mapped BLAS library is listed as well.
    std::string blas = setting("BLAS_INFO").empty() ? "unknown" : setting("BLAS_INFO");
    if (blas == "mkl") blas = ConfigLine(config, "Math Kernel Library");
    const auto mapped_blas = MappedLibraries({"libblas", "openblas", "mkl"});
    if (!mapped_blas.empty()) blas += " (mapped: " + Join(mapped_blas) + ")";
    Report("blas", blas);
    const auto omp = MappedLibraries({"libgomp", "libiomp", "libomp"});
    Report("openmp runtime", omp.empty() ? std::string("none mapped")
                                         : Join(omp) + (omp.size() > 1 ? " (more than one: two thread pools)" : ""));
    char buf[128];
    std::snprintf(buf, sizeof(buf), "%.1f GFLOP/s (%dx%d float32, median of 5)", gflops, *size, *size);
    Report("matmul", buf);
    const double onednn = MeasureOneDnnFlops(*size, 1, 5) / 1e9;
    if (onednn > 0) {
      std::snprintf(buf, sizeof(buf), "%.1f GFLOP/s (the same product as oneDNN's inner product: encoder inference)",
                    onednn);
      Report("onednn matmul", buf);
    } else {
      Report("onednn matmul", "not available (LibTorch without oneDNN: encoder inference uses the BLAS above)");
    }
    if (device.is_cuda()) {
      constexpr int kGpuMatmulSize = 8192;
      try {
        const double tflops =
            MeasureMatmulFlops(torch::TensorOptions().dtype(torch::kBFloat16).device(device), kGpuMatmulSize, 4, 10) /
            1e12;
        std::snprintf(buf, sizeof(buf), "%.1f TFLOP/s (%dx%d bfloat16 on %s, median of 10)", tflops, kGpuMatmulSize,
                      kGpuMatmulSize, device.str().c_str());
        Report("gpu matmul", buf);
      } catch (const std::exception& e) {
        Report("gpu matmul", "not measured: " + fas::FirstLine(e.what()));
      }
    }
    std::string spm;
    try {
      spm = fas::SentencePieceShimPath();
    } catch (const std::exception& e) {
      spm = std::string("unavailable: ") + e.what();
    }
    Report("sentencepiece", spm);
    for (const char* tool : {"flite", "festival", "text2wave", "espeak-ng"}) {
      const std::string p = Which(tool);
      Report(tool, p.empty() ? "not found (scripts/setup.sh installs it)" : p);
    }
    const char* ps_model = "/usr/share/pocketsphinx/model/en-us/en-us";
    Report("pocketsphinx model", fs::exists(ps_model) ? ps_model : "not found (package pocketsphinx-en-us)");
  };
}

const bool kRegistered = fas::cli::RegisterCommand(
    {"doctor", "report LibTorch, CUDA and the GPUs, BLAS, threads, allocator and the optional tools this machine has",
     Setup});

}  // namespace
