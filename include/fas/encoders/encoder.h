// What every encoder (acoustic: wav2vec2 / HuBERT / WavLM; semantic: BERT / XLM-R / Whisper) returns, the
// interface the SER model holds them by, and the pieces a downstream head uses on their output.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fas {

// The input of an encoder; each encoder reads the fields of its kind and ignores the others.
struct EncoderInput {
  torch::Tensor waveform;        // [B, T] float, 16 kHz (acoustic, Whisper)
  torch::Tensor lengths;         // [B] int64 valid samples; undefined = every row is full length
  torch::Tensor input_ids;       // [B, L] int64 (text)
  torch::Tensor attention_mask;  // [B, L] (text); undefined = no padding
};

struct EncoderOutput {
  // HuggingFace's `output_hidden_states`: [0] is the input of the first transformer layer, [i] the output of
  // layer i; the last one equals `last_hidden_state` (after the final LayerNorm of pre-LN stacks). Each [B, T, D].
  std::vector<torch::Tensor> hidden_states;
  torch::Tensor lengths;  // [B] int64 valid frames / tokens
  torch::Tensor mask;     // [B, T] bool, true = valid
  const torch::Tensor& last_hidden_state() const { return hidden_states.back(); }
};

// An encoder the SER model can hold without knowing its family.
class EncoderModule : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;
  virtual EncoderOutput Encode(const EncoderInput& input) = 0;
  virtual int64_t hidden_size() const = 0;
  virtual int64_t num_layers() const = 0;  // transformer layers; Encode returns num_layers() + 1 hidden states
};

// Softmax-normalised learnable weights over S hidden states (s3prl / SUPERB's weighted sum). The logits start
// at zero: an equal average.
class LayerWeightedSumImpl : public torch::nn::Module {
 public:
  explicit LayerWeightedSumImpl(int64_t num_layers);
  // S tensors of the same shape -> their weighted sum.
  torch::Tensor forward(const std::vector<torch::Tensor>& states);
  // One [B, S, ...] tensor (S on dim 1, as a feature cache stores it) -> [B, ...].
  torch::Tensor Stacked(const torch::Tensor& stacked);
  torch::Tensor weights() const;  // [S], sums to 1
  torch::Tensor layer_logits;
};
TORCH_MODULE(LayerWeightedSum);

// Picks hidden states by index (negative counts from the end: -1 = last). Throws ConfigError when out of range.
std::vector<torch::Tensor> SelectLayers(const std::vector<torch::Tensor>& hidden_states,
                                        const std::vector<int>& layers);

// requires_grad on every parameter of `module`.
void SetRequiresGrad(torch::nn::Module& module, bool requires_grad);

// An encoder built from its resolved config (`weights`, bool `freeze`): its weights loaded when given, then frozen
// (no gradient, eval mode) when the config says so. The tail every Create*Encoder shares.
template <class Holder, class Config>
Holder BuildEncoder(const Config& resolved) {
  Holder encoder(resolved);
  if (!resolved.weights.empty()) encoder->LoadWeights(resolved.weights);
  if (resolved.freeze) {
    SetRequiresGrad(*encoder, false);
    encoder->eval();
  }
  return encoder;
}

// The valid samples of each row of a [B, T] waveform batch: `lengths` as [B] int64 on the waveform's device, or T
// for every row when undefined. Throws DataError starting with `who` on a bad shape, a length past T, or an input
// shorter than the front end's `receptive_field` samples.
torch::Tensor SampleLengths(const std::string& who, const torch::Tensor& waveform, const torch::Tensor& lengths,
                            int64_t receptive_field);

}  // namespace fas
