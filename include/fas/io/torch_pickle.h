// The tensors of a state dict saved by PyTorch's torch.save (the zip format of PyTorch >= 1.6), read without
// executing the pickle: a small unpickler that knows only what torch.save writes for dicts of tensors (dicts,
// OrderedDicts, lists, tuples, numbers, strings, tensors and their storages) and refuses any other global by name,
// as Python's torch.load(weights_only=True) does. LibTorch's own torch::pickle_load reads an OrderedDict as None,
// and every model.state_dict() is one.
#pragma once

#include <string>
#include <vector>

#include "fas/io/safetensors.h"

namespace fas {

// The state dict inside the checkpoint at `path`, found as FunASR and fairseq find it: the top-level dict's
// "state_dict", else "model_state_dict", else "model", else the top-level dict itself. Every value there must be a
// tensor. Throws IoError with one line naming the file and what is wrong (not a zip archive, a global that is not
// a tensor's, a value that is not a tensor).
NamedTensors ReadTorchStateDict(const std::string& path);

}  // namespace fas
