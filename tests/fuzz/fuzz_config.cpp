// libFuzzer target: YAML config loading (parse, `--set`-style merge, typed binding). Any input must end in a
// parsed config or a fas::Error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fas/config/binder.h"

namespace {
struct Inner {
  int n = 0;
  double x = 0;
  std::vector<std::string> names;
  template <class V>
  void Visit(V& v) {
    v("n", n);
    v("x", x);
    v("names", names);
  }
};
struct Outer {
  std::string name;
  uint64_t seed = 0;
  bool flag = false;
  Inner inner;
  std::vector<Inner> list;
  std::map<std::string, std::string> map;
  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("seed", seed);
    v("flag", flag);
    v("inner", inner);
    v("list", list);
    v("map", map);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    fas::ConfigNode root = fas::ParseYaml(text, "fuzz");
    if (root.kind == fas::ConfigNode::Kind::kNull) root.kind = fas::ConfigNode::Kind::kMap;
    // The first line also serves as a --set assignment, the path users type by hand.
    const auto nl = text.find('\n');
    fas::ApplySet(root, text.substr(0, nl));
    Outer cfg = fas::BindConfig<Outer>(root);
    (void)fas::ConfigToString(cfg);
    (void)fas::ToYaml(root);
  } catch (const fas::Error&) {
  }
  return 0;
}
