// One exception hierarchy. Code inside the library throws; only the command boundary (cli/main.cpp) prints
// `error: ...` once and exits 1.
#pragma once

#include <stdexcept>
#include <string>

namespace fas {

// Base of every error the user can act on: bad input, a missing file, a config typo.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A configuration problem: unknown key, wrong type, value out of range.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read, or whose content is malformed (audio, manifest, safetensors, checkpoint).
class IoError : public Error {
 public:
  using Error::Error;
};

// Input data that is well-formed but unusable (NaN samples, zero-length audio, unknown label).
class DataError : public Error {
 public:
  using Error::Error;
};

// A model or checkpoint that does not match what the code expects (missing tensor, wrong shape).
class ModelError : public Error {
 public:
  using Error::Error;
};

// The run was asked to stop (SIGINT / SIGTERM) and has saved what it had.
class Interrupted : public Error {
 public:
  using Error::Error;
};

}  // namespace fas
