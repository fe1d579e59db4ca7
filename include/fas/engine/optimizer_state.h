// The optimiser's state in a checkpoint (optimizer.pt), written with LibTorch's own serialisation and read back
// by a reader of ours that accepts every LibTorch's spelling of it and checks what it restores.
//
// LibTorch's archive names each parameter's state by the address of its TensorImpl, as text: LibTorch 1.x wrote
// it in hexadecimal ("0x55d4c6b4a0f0"), 2.x writes decimal and parses with std::stoull, which reads a 1.x name as
// 0 — every parameter then maps to one and the same state, silently. Ours parses both spellings, matches names to
// parameters by their position in their group (as LibTorch does), and refuses, naming the tensor, any state whose
// shape or dtype differs from its parameter's, or a group layout that differs from the optimiser's.
#pragma once

#include <torch/torch.h>

#include <string>

namespace fas {

void SaveOptimizerState(const torch::optim::AdamW& optimizer, const std::string& path);

// Restores step counts, moments and the groups' options, each moment on its parameter's device and in its layout
// (a file written on a GPU resumes on the CPU and the other way round); throws IoError (unreadable file) or Error
// (state that does not fit this optimiser), each naming `path` and what differs.
void LoadOptimizerState(torch::optim::AdamW& optimizer, const std::string& path);

}  // namespace fas
