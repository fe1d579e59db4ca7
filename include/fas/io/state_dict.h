// Strict loading of a checkpoint into a torch::nn::Module by its registered parameter / buffer names, with the
// checkpoint-to-module name mapping kept as data (one NameMap a model family), whisper.cpp style.
//
// Mapping of a checkpoint name, in order:
//   1. the first of `strip_prefixes` it starts with is removed   ("wav2vec2.encoder.x" -> "encoder.x");
//   2. each alias whose `checkpoint` text occurs at a name-component boundary is replaced by its `module` text
//      ("...conv.weight_g" -> "...conv.parametrizations.weight.original0" or the reverse, as the table says);
//   3. the result must be a module tensor with the same shape; otherwise, if the *original* checkpoint name
//      matches one of `skip` (globs with `*`), it is skipped on purpose and listed in the report; otherwise the
//      load fails naming the tensor.
// Every module tensor must be found, except those matching `optional` (they keep their initial values).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fas/io/safetensors.h"

namespace fas {

struct NameAlias {
  std::string checkpoint;  // text in a checkpoint name
  std::string module;      // the module's spelling of it
};

struct NameMap {
  std::vector<std::string> strip_prefixes;  // checkpoint prefixes removed before matching ("wav2vec2.")
  std::vector<NameAlias> aliases;
  std::vector<std::string> skip;      // checkpoint tensors that are not part of the module (heads, quantizer)
  std::vector<std::string> optional;  // module tensors a checkpoint may lack (e.g. masked_spec_embed)
};

struct LoadReport {
  std::vector<std::string> loaded;            // module names filled from the checkpoint
  std::vector<std::string> skipped;           // checkpoint names skipped on purpose (NameMap::skip)
  std::vector<std::string> missing_optional;  // module names left at their initial values
};

// `*` matches any run of characters (including dots); everything else is literal.
bool GlobMatch(const std::string& pattern, const std::string& text);

// The module name a checkpoint name maps to (steps 1 and 2 above).
std::string MapCheckpointName(const NameMap& map, const std::string& checkpoint_name);

// Every parameter and buffer of `module` by registered name.
std::vector<std::pair<std::string, torch::Tensor>> ModuleTensors(const torch::nn::Module& module);

// Copies the checkpoint's tensors into the module's parameters / buffers (converted to their dtype and device).
// Throws ModelError naming the first unknown, missing or wrongly shaped tensor (with got / expected shapes).
// Skipped tensors are logged at info level.
LoadReport LoadStateDict(torch::nn::Module& module, const SafeTensorsFile& file, const NameMap& map);
LoadReport LoadStateDict(torch::nn::Module& module, const std::string& safetensors_path, const NameMap& map);
LoadReport LoadStateDict(torch::nn::Module& module, const NamedTensors& tensors, const NameMap& map,
                         const std::string& source = "state dict");

// Writes the module's parameters and buffers under their registered names (with `prefix` prepended), atomically.
void SaveStateDict(const torch::nn::Module& module, const std::string& path, const std::string& prefix = "",
                   const std::map<std::string, std::string>& metadata = {});

}  // namespace fas
