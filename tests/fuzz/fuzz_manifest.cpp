// libFuzzer target: the manifest reader (JSON Lines), strict and with skip_bad.
#include "fas/core/error.h"
#include "fas/data/manifest.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fas::fuzz::WriteScratch(data, size, ".jsonl");
  for (const bool skip_bad : {false, true}) {
    try {
      fas::ManifestReadOptions options;
      options.skip_bad = skip_bad;
      options.check_audio_exists = false;
      const auto manifest = fas::ReadManifest(path, options);
      for (const auto& u : manifest.utterances) (void)fas::ToJson(u).dump();
    } catch (const fas::Error&) {
    }
  }
  return 0;
}
