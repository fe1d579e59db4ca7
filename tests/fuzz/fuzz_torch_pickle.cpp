// libFuzzer target: the reader of torch.save checkpoints (`fas convert emotion2vec`). A hostile or damaged file must
// end in a clean fas::Error: never a crash, code run from the pickle, or an allocation the file did not pay for.
#include "fas/core/error.h"
#include "fas/io/torch_pickle.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fas::fuzz::WriteScratch(data, size, ".pt");
  try {
    (void)fas::ReadTorchStateDict(path);
  } catch (const fas::Error&) {
  }
  return 0;
}
