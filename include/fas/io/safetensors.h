// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then one data buffer.
//
// Reading maps the file and validates the whole header before any tensor byte is used: header length inside the
// file, every entry well formed, sizes equal to dtype size x shape (with overflow checks), offsets inside the
// buffer, contiguous and non-overlapping, the buffer fully covered, metadata strings only. A malformed or hostile
// file is an IoError naming the file, never a crash or an out-of-bounds read.
//
// Writing is atomic: a temporary file beside the target, fsync, rename, fsync of the folder.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fas {

enum class SafeDType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

const char* SafeDTypeName(SafeDType dtype);  // "F32", ...
size_t SafeDTypeSize(SafeDType dtype);       // bytes per element
torch::ScalarType ToScalarType(SafeDType dtype);

struct SafeTensorInfo {
  std::string name;
  SafeDType dtype = SafeDType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data buffer, [begin, end)
  uint64_t end = 0;
  int64_t numel() const;
};

// Refusals applied before anything is allocated from what a file claims.
struct SafeTensorsLimits {
  uint64_t max_header_bytes = 100u << 20;  // the reference implementation's limit
  int max_rank = 16;
  int max_json_depth = 64;
};

// A read-only, memory-mapped, fully validated safetensors file. Movable, not copyable; the mapping lives as long
// as the object.
class SafeTensorsFile {
 public:
  // Throws IoError naming `path` and the offending entry on anything malformed.
  explicit SafeTensorsFile(const std::string& path, const SafeTensorsLimits& limits = {});
  ~SafeTensorsFile();
  SafeTensorsFile(SafeTensorsFile&&) noexcept;
  SafeTensorsFile& operator=(SafeTensorsFile&&) noexcept;
  SafeTensorsFile(const SafeTensorsFile&) = delete;
  SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // Tensors in header-key order (sorted by name).
  const std::vector<SafeTensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafeTensorInfo* Find(const std::string& name) const;
  bool Contains(const std::string& name) const { return Find(name) != nullptr; }

  // An owning CPU tensor copied out of the mapping, in the stored dtype or converted to `dtype`.
  // Throws IoError if `name` is not in the file.
  torch::Tensor Get(const std::string& name) const;
  torch::Tensor Get(const std::string& name, torch::ScalarType dtype) const;
  // A tensor over the mapping itself, in the stored dtype, without a copy: valid only while this object lives
  // (readers that convert the data anyway, such as a feature store filling a batch, save the copy).
  torch::Tensor View(const std::string& name) const;
  // The whole mapped file (for checksums).
  std::string_view bytes() const { return {reinterpret_cast<const char*>(map_), map_size_}; }

 private:
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data buffer inside the mapping
  std::vector<SafeTensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Every tensor of a file, in name order, in its stored dtype.
NamedTensors ReadSafeTensors(const std::string& path);

// Writes tensors (any device, any layout; saved as contiguous CPU copies) atomically. Names must be unique and
// non-empty; dtypes are those listed in SafeDType. Throws IoError on a write failure, ModelError on a bad tensor.
void WriteSafeTensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Writes `bytes` to `path` through a temporary file, fsync and rename (shared by every writer of whole files).
void WriteFileAtomic(const std::string& path, const std::string& bytes);

// Appends `bytes` to `path` (created when absent) and syncs it: an append-only log keeps every complete record
// through a crash.
void AppendFileSynced(const std::string& path, const std::string& bytes);

}  // namespace fas
