#include "fas/engine/rng_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <sstream>

#include "fas/core/device.h"
#include "fas/core/error.h"

namespace fas {
namespace {

const char* kHex = "0123456789abcdef";

std::string ToHex(const std::vector<uint8_t>& bytes) {
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

std::vector<uint8_t> FromHex(const std::string& s) {
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw IoError("checkpoint RNG state: not a hexadecimal string");
  };
  if (s.size() % 2 != 0) throw IoError("checkpoint RNG state: odd-length hexadecimal string");
  std::vector<uint8_t> out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]));
  return out;
}

}  // namespace

nlohmann::json RngState::ToJson() const {
  nlohmann::json j;
  j["torch_cpu"] = ToHex(torch_cpu);
  j["streams"] = streams;
  j["torch_cuda"] = nlohmann::json::array();
  for (const auto& state : torch_cuda) j["torch_cuda"].push_back(ToHex(state));
  return j;
}

RngState RngState::FromJson(const nlohmann::json& j) {
  RngState r;
  try {
    r.torch_cpu = FromHex(j.at("torch_cpu").get<std::string>());
    r.streams = j.at("streams").get<std::map<std::string, std::string>>();
    if (j.contains("torch_cuda")) {
      for (const auto& state : j.at("torch_cuda")) r.torch_cuda.push_back(FromHex(state.get<std::string>()));
    }
  } catch (const nlohmann::json::exception& e) {
    throw IoError(std::string("checkpoint RNG state: ") + e.what());
  }
  return r;
}

std::vector<uint8_t> CaptureTorchRng() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  const at::Tensor state = gen.get_state();
  std::vector<uint8_t> out(static_cast<size_t>(state.numel()));
  std::memcpy(out.data(), state.data_ptr<uint8_t>(), out.size());
  return out;
}

void RestoreTorchRng(const std::vector<uint8_t>& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  const at::Tensor t = torch::empty({static_cast<int64_t>(state.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), state.data(), state.size());
  std::lock_guard<std::mutex> lock(gen.mutex());
  try {
    gen.set_state(t);
  } catch (const c10::Error& e) {
    throw IoError(std::string("checkpoint RNG state does not fit LibTorch's CPU generator: ") +
                  e.what_without_backtrace());
  }
}

std::vector<std::vector<uint8_t>> CaptureCudaRng() {
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < VisibleGpus(); ++i) {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    const at::Tensor state = gen.get_state().contiguous();
    out.emplace_back(state.data_ptr<uint8_t>(), state.data_ptr<uint8_t>() + state.numel());
  }
  return out;
}

void RestoreCudaRng(const std::vector<std::vector<uint8_t>>& states) {
  const int gpus = VisibleGpus();
  if (static_cast<int>(states.size()) != gpus) {
    spdlog::info("the checkpoint carries the CUDA generator states of {} GPU(s), this process sees {}: restored {}; "
                 "randomness drawn outside the training batches may differ from the uninterrupted run",
                 states.size(), gpus, std::min<size_t>(states.size(), static_cast<size_t>(gpus)));
  }
  for (int i = 0; i < gpus && i < static_cast<int>(states.size()); ++i) {
    const auto& state = states[static_cast<size_t>(i)];
    const at::Tensor t = torch::empty({static_cast<int64_t>(state.size())}, torch::kUInt8);
    std::memcpy(t.data_ptr<uint8_t>(), state.data(), state.size());
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    try {
      gen.set_state(t);
    } catch (const c10::Error& e) {
      throw IoError("checkpoint RNG state of GPU " + std::to_string(i) + " does not fit LibTorch's CUDA generator: " +
                    e.what_without_backtrace());
    }
  }
}

std::string SaveEngine(const std::mt19937_64& engine) {
  std::ostringstream os;
  os << engine;
  return os.str();
}

void LoadEngine(const std::string& text, std::mt19937_64& engine) {
  std::istringstream is(text);
  std::mt19937_64 e;
  is >> e;
  if (is.fail()) throw IoError("checkpoint RNG state: malformed std::mt19937_64 state");
  engine = e;
}

}  // namespace fas
