// `fas convert emotion2vec`: the published checkpoint and FunASR's config.yaml into config.json + model.safetensors.
#include <filesystem>

#include "fas/core/error.h"
#include "fas/encoders/emotion2vec.h"
#include "fas/io/torch_pickle.h"

namespace fas {

LoadReport ConvertEmotion2Vec(const std::string& checkpoint, const std::string& config_yaml,
                              const std::string& out_dir) {
  const Emotion2VecConfig config = ReadFunAsrEmotion2VecConfig(config_yaml);
  const NamedTensors tensors = ReadTorchStateDict(checkpoint);
  Emotion2VecEncoder encoder(config);
  // Strict: a tensor the architecture lacks, or one it has with another shape, stops the conversion here.
  LoadReport report = LoadStateDict(*encoder, tensors, Emotion2VecNameMap(), checkpoint);
  std::filesystem::create_directories(out_dir);
  SaveStateDict(*encoder, out_dir + "/model.safetensors", "",
                {{"format", "pt"}, {"converted_from", std::filesystem::path(checkpoint).filename().string()}});
  WriteEmotion2VecConfig(config, out_dir + "/config.json");
  return report;
}

}  // namespace fas
