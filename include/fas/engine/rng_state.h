// Every random state a run consumes, captured for a checkpoint and restored on --resume, so that dropout masks,
// random token selection and any std::mt19937_64 stream continue exactly where the stopped run was.
// GPUs: the default CUDA generator of every GPU the process sees (seed and Philox offset). A checkpoint resumed
// where the GPUs differ restores the states of the GPUs both have (by index) and says so in one line; the others
// keep their seeding (the trainer reseeds every generator before each batch, so only randomness drawn outside
// the batches then differs from the uninterrupted run). Checkpoints written before GPUs were recorded, or on a
// machine without one, carry none.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fas {

struct RngState {
  std::vector<uint8_t> torch_cpu;             // LibTorch's default CPU generator (get_state())
  std::map<std::string, std::string> streams;  // named std::mt19937_64 engines, as their operator<< text
  std::vector<std::vector<uint8_t>> torch_cuda;  // default CUDA generator of GPU 0, 1, ... (empty: none seen)

  nlohmann::json ToJson() const;
  static RngState FromJson(const nlohmann::json& j);  // throws IoError on a malformed entry
};

// The default CPU generator's state now, and back.
std::vector<uint8_t> CaptureTorchRng();
void RestoreTorchRng(const std::vector<uint8_t>& state);

// The default CUDA generator of every visible GPU, by index (empty without a GPU), and back: GPU i gets state i
// for the GPUs both sides have; a count that differs is logged. Throws IoError on a state that does not fit.
std::vector<std::vector<uint8_t>> CaptureCudaRng();
void RestoreCudaRng(const std::vector<std::vector<uint8_t>>& states);

std::string SaveEngine(const std::mt19937_64& engine);
void LoadEngine(const std::string& text, std::mt19937_64& engine);  // throws IoError on malformed text

}  // namespace fas
