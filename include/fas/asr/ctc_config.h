// Settings of the "ctc" transcription back-end (the recogniser itself is fas/encoders/ctc_model.h). Kept apart
// from the decoder so that the transcriber config can hold it without LibTorch.
#pragma once

#include <string>

namespace fas {

struct CtcTranscriberConfig {
  std::string model;   // folder with config.json, model.safetensors, vocab.json (HuggingFace Wav2Vec2ForCTC layout)
  int beam_width = 1;  // 1 = greedy (best path); more = CTC prefix beam search

  template <class V>
  void Visit(V& v) {
    v("model", model, "CTC model folder: config.json, model.safetensors, vocab.json");
    v("beam_width", beam_width, "1 = greedy; > 1 = prefix beam search");
  }
};

}  // namespace fas
