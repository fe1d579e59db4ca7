// Reading a value out of a configuration tree (a run's config.yaml, the published numbers) by its key path.
#pragma once

#include <string>
#include <vector>

#include "fas/config/node.h"

namespace fas {

// The node at `keys` below `root` (model, fusion, k_aco); nullptr when a key is missing or a node on the way is not
// a map.
inline const ConfigNode* NodeAt(const ConfigNode& root, const std::vector<std::string>& keys) {
  const ConfigNode* n = &root;
  for (const auto& k : keys) {
    if (n->kind != ConfigNode::Kind::kMap) return nullptr;
    n = n->Find(k);
    if (n == nullptr) return nullptr;
  }
  return n;
}

}  // namespace fas
