// The readers under fuzzing take paths (they memory-map or seek), so each input is written to one scratch file
// per process first.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace fas::fuzz {

inline std::string WriteScratch(const uint8_t* data, size_t size, const std::string& extension) {
  const std::string path = "/tmp/fas-fuzz-" + std::to_string(getpid()) + extension;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace fas::fuzz
