// Every random state a run consumes, captured for a checkpoint and restored on --resume, so that dropout masks,
// random token selection and any std::mt19937_64 stream continue exactly where the stopped run was.
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

  nlohmann::json ToJson() const;
  static RngState FromJson(const nlohmann::json& j);  // throws IoError on a malformed entry
};

// The default CPU generator's state now, and back.
std::vector<uint8_t> CaptureTorchRng();
void RestoreTorchRng(const std::vector<uint8_t>& state);

std::string SaveEngine(const std::mt19937_64& engine);
void LoadEngine(const std::string& text, std::mt19937_64& engine);  // throws IoError on malformed text

}  // namespace fas
