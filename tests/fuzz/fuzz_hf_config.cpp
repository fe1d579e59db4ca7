// libFuzzer target: HuggingFace config.json import for every encoder family (wav2vec2 / HuBERT / WavLM, BERT /
// RoBERTa / XLM-R, Whisper), then validation. A hostile config must be a clean fas::Error; one that validates
// must describe a model of bounded size.
#include "fas/core/error.h"
#include "fas/encoders/text_encoder.h"
#include "fas/encoders/wav2vec2.h"
#include "fas/encoders/whisper.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fas::fuzz::WriteScratch(data, size, ".json");
  try {
    fas::ReadHfAcousticConfig(path).Validate();
  } catch (const fas::Error&) {
  }
  try {
    fas::ReadHfTextConfig(path).Validate();
  } catch (const fas::Error&) {
  }
  try {
    fas::ReadHfWhisperConfig(path).Validate();
  } catch (const fas::Error&) {
  }
  return 0;
}
