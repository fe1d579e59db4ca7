// `fas inspect FILE.safetensors`: the tensors of a file (name, dtype, shape), its metadata, and totals.
#include <cstdio>
#include <iostream>
#include <memory>

#include "command.h"
#include "fas/io/safetensors.h"

namespace {

std::string Shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

fas::cli::RunFn Setup(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  app.add_option("file", *path, "safetensors file")->required();
  return [path] {
    const fas::SafeTensorsFile file(*path);
    size_t width = 4;
    for (const auto& t : file.tensors()) width = std::max(width, t.name.size());
    int64_t elements = 0;
    uint64_t bytes = 0;
    for (const auto& t : file.tensors()) {
      std::printf("%-*s  %-4s  %s\n", static_cast<int>(width), t.name.c_str(), fas::SafeDTypeName(t.dtype),
                  Shape(t.shape).c_str());
      elements += t.numel();
      bytes += t.end - t.begin;
    }
    for (const auto& [k, v] : file.metadata()) std::printf("metadata %s: %s\n", k.c_str(), v.c_str());
    std::printf("%zu tensors, %lld elements, %llu bytes\n", file.tensors().size(), static_cast<long long>(elements),
                static_cast<unsigned long long>(bytes));
  };
}

const bool kRegistered =
    fas::cli::RegisterCommand({"inspect", "list the tensors of a safetensors file (name, dtype, shape)", Setup});

}  // namespace
