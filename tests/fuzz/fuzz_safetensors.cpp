// libFuzzer target: the safetensors reader. A hostile checkpoint must end in a clean fas::Error, never a crash,
// an out-of-bounds read or an allocation the file did not pay for.
#include "fas/core/error.h"
#include "fas/io/safetensors.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fas::fuzz::WriteScratch(data, size, ".safetensors");
  try {
    fas::SafeTensorsFile file(path);
    for (const auto& info : file.tensors()) {
      (void)file.Get(info.name);
      (void)file.Get(info.name, torch::kFloat32);
    }
  } catch (const fas::Error&) {
  }
  return 0;
}
