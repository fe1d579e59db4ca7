// `fas encode --encoder CONFIG --weights W --input X --out O.safetensors`: runs one encoder and writes every
// hidden state (`hidden_states.N`, 0 = the input of the first layer), `last_hidden_state` and `frame_lengths`,
// for parity checks against HuggingFace in Python.
//
// CONFIG is a HuggingFace config.json (dispatched on its model_type) or our YAML (on its `type`). Each encoder
// family is one row of Backends(): the types it serves and how it runs a request.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "fas/audio/audio.h"
#include "fas/config/binder.h"
#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/encoders/text_encoder.h"
#include "fas/encoders/wav2vec2.h"
#include "fas/encoders/whisper.h"
#include "fas/io/safetensors.h"

namespace {

struct EncodeRequest {
  std::string config;  // path
  bool hf_config = false;
  std::string weights;
  std::string input;
  torch::Device device = torch::kCPU;
  fas::Precision precision = fas::Precision::kFloat32;
};

// The encoder on the request's device; its forward under the request's precision (autocast: bf16 matmuls and
// attention on float32 weights, norms and softmax in float32, as the feature store extracts).
template <class Encoder, class... Inputs>
fas::EncoderOutput RunOnDevice(Encoder& encoder, const EncodeRequest& request, const Inputs&... inputs) {
  encoder->to(request.device);
  encoder->eval();
  c10::InferenceMode guard;
  const fas::Autocast autocast(request.device, request.precision);
  fas::EncoderOutput out = encoder->forward(fas::ToDevice(inputs, request.device)...);
  fas::SynchronizeDevice(request.device);
  return out;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The model type a config names: HuggingFace's model_type, or our YAML's `type` (default wav2vec2).
std::string ConfigType(const std::string& path, bool hf) {
  if (hf) {
    std::ifstream in(path);
    if (!in) throw fas::ConfigError(path + ": cannot open");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw fas::ConfigError(path + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object() || !j.contains("model_type") || !j["model_type"].is_string()) {
      throw fas::ConfigError(path + ": a HuggingFace config needs a string model_type");
    }
    return j["model_type"].get<std::string>();
  }
  const fas::ConfigNode root = fas::LoadConfigTree({path}, {});
  const fas::ConfigNode* type = root.Find("type");
  return type == nullptr ? "wav2vec2" : type->scalar;
}

// Waveform input: a safetensors file with `waveform` [B, T] and optional `lengths` [B], or an audio file
// (decoded, mixed to mono, resampled to 16 kHz).
std::pair<torch::Tensor, torch::Tensor> ReadWaveform(const std::string& path) {
  if (EndsWith(path, ".safetensors")) {
    const fas::SafeTensorsFile file(path);
    if (!file.Contains("waveform")) throw fas::DataError(path + ": no tensor named 'waveform'");
    auto waveform = file.Get("waveform", torch::kFloat32);
    if (waveform.dim() != 2) throw fas::DataError(path + ": 'waveform' must be [batch, samples]");
    torch::Tensor lengths;
    if (file.Contains("lengths")) {
      const auto* info = file.Find("lengths");
      if (info->dtype != fas::SafeDType::kI64 && info->dtype != fas::SafeDType::kI32) {
        throw fas::DataError(path + ": 'lengths' must be I64 or I32");
      }
      lengths = file.Get("lengths", torch::kInt64);
      if (lengths.dim() != 1 || lengths.size(0) != waveform.size(0)) {
        throw fas::DataError(path + ": 'lengths' must be [" + std::to_string(waveform.size(0)) + "]");
      }
      if (lengths.min().item<int64_t>() < 1 || lengths.max().item<int64_t>() > waveform.size(1)) {
        throw fas::DataError(path + ": 'lengths' must lie in [1, " + std::to_string(waveform.size(1)) + "]");
      }
    }
    return {waveform, lengths};
  }
  std::vector<float> samples = fas::ReadAudio(path);
  auto waveform = torch::from_blob(samples.data(), {1, static_cast<int64_t>(samples.size())}, torch::kFloat32).clone();
  return {waveform, torch::Tensor()};
}

fas::EncoderOutput RunAcoustic(const EncodeRequest& request) {
  fas::AcousticEncoderConfig config;
  if (request.hf_config) {
    config.hf_config = request.config;
  } else {
    config = fas::LoadConfig<fas::AcousticEncoderConfig>({request.config});
  }
  if (!request.weights.empty()) config.weights = request.weights;
  if (config.weights.empty()) throw fas::ConfigError("fas encode: no weights (give --weights or `weights:` in the config)");
  config.freeze = "all";
  auto encoder = fas::CreateAcousticEncoder(config);
  auto [waveform, lengths] = ReadWaveform(request.input);
  return RunOnDevice(encoder, request, waveform, lengths);
}

// Token input: a safetensors file with `input_ids` [B, L] (int64 or int32) and optional `attention_mask` [B, L].
std::pair<torch::Tensor, torch::Tensor> ReadTokens(const std::string& path) {
  if (!EndsWith(path, ".safetensors")) {
    throw fas::DataError(path + ": a text encoder reads a safetensors file with input_ids (and attention_mask)");
  }
  const fas::SafeTensorsFile file(path);
  if (!file.Contains("input_ids")) throw fas::DataError(path + ": no tensor named 'input_ids'");
  for (const char* name : {"input_ids", "attention_mask"}) {
    const auto* info = file.Find(name);
    if (info != nullptr && info->dtype != fas::SafeDType::kI64 && info->dtype != fas::SafeDType::kI32) {
      throw fas::DataError(path + ": '" + name + "' must be I64 or I32");
    }
  }
  auto ids = file.Get("input_ids", torch::kInt64);
  if (ids.dim() != 2) throw fas::DataError(path + ": 'input_ids' must be [batch, tokens]");
  torch::Tensor mask;
  if (file.Contains("attention_mask")) {
    mask = file.Get("attention_mask", torch::kInt64);
    if (mask.sizes() != ids.sizes()) throw fas::DataError(path + ": 'attention_mask' must have input_ids' shape");
  }
  return {ids, mask};
}

fas::EncoderOutput RunText(const EncodeRequest& request) {
  fas::TextEncoderConfig config;
  if (request.hf_config) {
    config.hf_config = request.config;
  } else {
    config = fas::LoadConfig<fas::TextEncoderConfig>({request.config});
  }
  if (!request.weights.empty()) config.weights = request.weights;
  if (config.weights.empty()) throw fas::ConfigError("fas encode: no weights (give --weights or `weights:` in the config)");
  config.freeze = true;
  auto encoder = fas::CreateTextEncoder(config);
  auto [ids, mask] = ReadTokens(request.input);
  return RunOnDevice(encoder, request, ids, mask);
}

fas::EncoderOutput RunWhisper(const EncodeRequest& request) {
  fas::WhisperEncoderConfig config;
  if (request.hf_config) {
    config.hf_config = request.config;
  } else {
    config = fas::LoadConfig<fas::WhisperEncoderConfig>({request.config});
  }
  if (!request.weights.empty()) config.weights = request.weights;
  if (config.weights.empty()) throw fas::ConfigError("fas encode: no weights (give --weights or `weights:` in the config)");
  config.freeze = true;
  auto encoder = fas::CreateWhisperEncoder(config);
  auto [waveform, lengths] = ReadWaveform(request.input);
  return RunOnDevice(encoder, request, waveform, lengths);
}

struct EncodeBackend {
  std::vector<std::string> types;
  std::function<fas::EncoderOutput(const EncodeRequest&)> run;
};

const std::vector<EncodeBackend>& Backends() {
  static const std::vector<EncodeBackend> backends = {
      {{"wav2vec2", "hubert", "wavlm"}, RunAcoustic},
      {{"bert", "roberta", "xlm-roberta"}, RunText},
      {{"whisper"}, RunWhisper},
  };
  return backends;
}

fas::cli::RunFn Setup(CLI::App& app) {
  auto request = std::make_shared<EncodeRequest>();
  auto out = std::make_shared<std::string>();
  app.add_option("--encoder", request->config, "HuggingFace config.json or our YAML encoder config")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--weights", request->weights, "safetensors weights (HuggingFace names)");
  app.add_option("--input", request->input,
                 "audio file, or safetensors with `waveform` [B, T] (+ `lengths`) or `input_ids` (+ `attention_mask`)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--out", *out, "output safetensors")->required();
  auto device = std::make_shared<std::string>("auto");
  auto precision = std::make_shared<std::string>("fp32");
  auto no_tf32 = std::make_shared<bool>(false);
  app.add_option("--device", *device, "where to compute: auto (a GPU when one is visible) | cpu | cuda | cuda:N");
  app.add_option("--precision", *precision, "fp32 | bf16 (autocast) | fp16 (autocast)");
  app.add_flag("--no-tf32", *no_tf32, "on a GPU, float32 matmuls exact instead of on the TF32 tensor cores");
  return [request, out, device, precision, no_tf32] {
    request->device = fas::UseDevice(*device, "--device", -1, !*no_tf32);
    request->precision = fas::ParsePrecision(*precision, "--precision");
    request->hf_config = EndsWith(request->config, ".json");
    const std::string type = ConfigType(request->config, request->hf_config);
    const EncodeBackend* backend = nullptr;
    std::string known;
    for (const auto& b : Backends()) {
      for (const auto& t : b.types) {
        known += (known.empty() ? "" : ", ") + t;
        if (t == type) backend = &b;
      }
    }
    if (backend == nullptr) {
      throw fas::ConfigError(request->config + ": encoder type '" + type + "' is not one of " + known);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const fas::EncoderOutput result = backend->run(*request);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fas::NamedTensors tensors;
    // Written as float32 whatever the precision, so that every reader compares like with like.
    auto cpu = [](const torch::Tensor& t) {
      return t.is_floating_point() ? t.to(torch::kCPU, torch::kFloat32) : t.to(torch::kCPU);
    };
    for (size_t i = 0; i < result.hidden_states.size(); ++i) {
      tensors.emplace_back("hidden_states." + std::to_string(i), cpu(result.hidden_states[i]));
    }
    tensors.emplace_back("last_hidden_state", cpu(result.last_hidden_state()));
    tensors.emplace_back("frame_lengths", cpu(result.lengths));
    fas::WriteSafeTensors(*out, tensors, {{"encoder", type}});
    const auto& last = result.last_hidden_state();
    std::printf("%s: %zu hidden states of [%lld, %lld, %lld] in %.3f s -> %s\n", type.c_str(),
                result.hidden_states.size(), static_cast<long long>(last.size(0)),
                static_cast<long long>(last.size(1)), static_cast<long long>(last.size(2)), seconds, out->c_str());
  };
}

const bool kRegistered = fas::cli::RegisterCommand(
    {"encode", "run one encoder and write every hidden state (parity checks against HuggingFace)", Setup});

}  // namespace
