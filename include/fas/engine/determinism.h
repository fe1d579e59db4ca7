// train.deterministic: a run computes with deterministic kernels only, so that the same config on the same GPU
// and software repeats bit for bit (and a killed run resumed equals the uninterrupted one).
// Without it a GPU run is repeatable only up to the last bits of the float sums whose order the hardware picks:
// atomics in the backward passes of index_add / index_put / scatter / embedding bags, CTC loss on a GPU,
// cuBLAS's split-K reductions with its default workspace, and cuDNN's fastest (non-deterministic) algorithms.
// CPU runs are deterministic either way.
#pragma once

#include <string>

namespace fas {

// Makes LibTorch use deterministic kernels only (an op that has none throws, naming itself), cuDNN pick only
// deterministic algorithms, and cuBLAS use a fixed workspace (CUBLAS_WORKSPACE_CONFIG=:4096:8 unless already
// set). Call before the first GPU computation of the process: cuBLAS reads the variable when it starts.
void UseDeterministicKernels();

// Whether the c10::Error text is LibTorch's refusal of an op without a deterministic kernel.
bool IsDeterminismError(const std::string& what);

}  // namespace fas
