// Error messages as one line: LibTorch's and c10d's carry a C++ backtrace or a NCCL/Gloo dump after their first.
#pragma once

#include <string>

namespace fas {

// `message` up to its first newline (all of it when it has none).
std::string FirstLine(const std::string& message);

}  // namespace fas
