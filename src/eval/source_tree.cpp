#include "source_tree.h"

#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace fas {

std::string FindInSourceTree(std::vector<std::string> first, const std::string& relative) {
  char exe[4096];
  const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len > 0) {
    exe[len] = '\0';
    for (fs::path p = fs::path(exe).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      first.push_back((p / relative).string());
    }
  }
  for (const auto& c : first) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return c;
  }
  return "";
}

}  // namespace fas
