// Files fas reads from its source tree (the published numbers, the plotting script) when it runs from a build
// inside the tree rather than from the repository root.
#pragma once

#include <string>
#include <vector>

namespace fas {

// The first of `first` that is a file, else `relative` in the nearest folder above the running executable that
// has it; "" when none.
std::string FindInSourceTree(std::vector<std::string> first, const std::string& relative);

}  // namespace fas
