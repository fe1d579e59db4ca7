// `fas doctor`: what this machine gives the framework (LibTorch, BLAS, threads, allocator, optional tools).
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <iostream>
#include <set>

#include "command.h"
#include "fas/core/runtime.h"
#include "fas/text/sentencepiece.h"

namespace fs = std::filesystem;

namespace {

// The BLAS libraries actually mapped into this process (not what the package manager believes).
std::set<std::string> LoadedBlas() {
  std::set<std::string> found;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = fs::path(path).filename().string();
    if (name.find("blas") != std::string::npos || name.find("mkl") != std::string::npos) {
      std::error_code ec;
      const auto real = fs::canonical(path, ec);
      found.insert(ec ? path : real.string());
    }
  }
  return found;
}

double MeasureMatmulGflops(int n) {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  auto c = torch::matmul(a, b);  // warm-up: thread pool, page faults
  std::vector<double> times;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    c = torch::matmul(a, b);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return 2.0 * n * n * n / times[times.size() / 2] / 1e9;
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
    Report("libtorch", TORCH_VERSION);
    Report("intra-op threads", std::to_string(fas::IntraOpThreads()) + " (cores available: " +
                                   std::to_string(fas::AvailableCores()) + ")");
    Report("allocator", fas::AllocatorTuned() ? "tuned (M_MMAP_MAX=0, M_TRIM_THRESHOLD=2^31-1)" : "glibc default");
    const double gflops = MeasureMatmulGflops(*size);
    std::string blas;
    for (const auto& b : LoadedBlas()) blas += (blas.empty() ? "" : ", ") + b;
    const bool openblas = blas.find("openblas") != std::string::npos;
    Report("blas", (blas.empty() ? std::string("none mapped") : blas) +
                       (openblas ? " (OpenBLAS)" : " (not OpenBLAS: run scripts/setup.sh for 30x faster matmul)"));
    char buf[96];
    std::snprintf(buf, sizeof(buf), "%.1f GFLOP/s (%dx%d float32, median of 5)", gflops, *size, *size);
    Report("matmul", buf);
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
    {"doctor", "report LibTorch, BLAS, threads, allocator and the optional tools this machine has", Setup});

}  // namespace
