// libFuzzer target: audio decoding (libsndfile, mono mix, resampling) of whatever bytes a corpus may hold.
#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fas::fuzz::WriteScratch(data, size, ".wav");
  try {
    fas::AudioReadOptions options;
    options.max_duration = 30;  // keeps one input's work bounded; longer claims must be refused, not read
    (void)fas::ProbeAudio(path);
    (void)fas::ReadAudio(path, options);
    options.offset = 0.01;
    options.duration = 0.05;
    options.target_rate = 8000;
    (void)fas::ReadAudio(path, options);
  } catch (const fas::Error&) {
  }
  return 0;
}
