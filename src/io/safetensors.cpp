#include "fas/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "fas/core/error.h"

namespace fas {
namespace {

using json = nlohmann::json;

struct DTypeRow {
  SafeDType dtype;
  const char* name;
  size_t size;
  torch::ScalarType scalar;
};

constexpr DTypeRow kDTypes[] = {
    {SafeDType::kF64, "F64", 8, torch::kFloat64}, {SafeDType::kF32, "F32", 4, torch::kFloat32},
    {SafeDType::kF16, "F16", 2, torch::kFloat16}, {SafeDType::kBF16, "BF16", 2, torch::kBFloat16},
    {SafeDType::kI64, "I64", 8, torch::kInt64},   {SafeDType::kI32, "I32", 4, torch::kInt32},
    {SafeDType::kI16, "I16", 2, torch::kInt16},   {SafeDType::kI8, "I8", 1, torch::kInt8},
    {SafeDType::kU8, "U8", 1, torch::kUInt8},     {SafeDType::kBool, "BOOL", 1, torch::kBool},
};

const DTypeRow& Row(SafeDType d) {
  for (const auto& r : kDTypes) {
    if (r.dtype == d) return r;
  }
  throw IoError("safetensors: unknown dtype enum");
}

bool ParseDType(const std::string& s, SafeDType& out) {
  for (const auto& r : kDTypes) {
    if (s == r.name) {
      out = r.dtype;
      return true;
    }
  }
  return false;
}

bool FromScalarType(torch::ScalarType t, SafeDType& out) {
  for (const auto& r : kDTypes) {
    if (r.scalar == t) {
      out = r.dtype;
      return true;
    }
  }
  return false;
}

uint64_t ReadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Nesting depth of a JSON text, counted without parsing, so a hostile header cannot exhaust the parser's stack.
int JsonDepth(const char* p, size_t n) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

uint64_t AsOffset(const json& v, const std::string& where) {
  if (!v.is_number_unsigned()) throw IoError(where + ": data_offsets must be non-negative integers");
  return v.get<uint64_t>();
}

SafeTensorInfo ParseEntry(const std::string& name, const json& e, const SafeTensorsLimits& limits,
                          const std::string& file) {
  const std::string where = file + ": tensor '" + name + "'";
  if (name.empty()) throw IoError(file + ": a tensor has an empty name");
  if (!e.is_object()) throw IoError(where + ": entry must be an object");
  for (const auto& [k, v] : e.items()) {
    if (k != "dtype" && k != "shape" && k != "data_offsets") throw IoError(where + ": unknown field '" + k + "'");
  }
  if (!e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets")) {
    throw IoError(where + ": entry needs dtype, shape and data_offsets");
  }
  SafeTensorInfo info;
  info.name = name;
  if (!e["dtype"].is_string() || !ParseDType(e["dtype"].get<std::string>(), info.dtype)) {
    throw IoError(where + ": unsupported dtype " + e["dtype"].dump() +
                  " (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)");
  }
  const json& shape = e["shape"];
  if (!shape.is_array()) throw IoError(where + ": shape must be a list");
  if (shape.size() > static_cast<size_t>(limits.max_rank)) {
    throw IoError(where + ": rank " + std::to_string(shape.size()) + " exceeds " + std::to_string(limits.max_rank));
  }
  // Element and byte counts with overflow checks: a shape cannot claim more bytes than 2^63.
  uint64_t bytes = Row(info.dtype).size;
  bool overflow = false;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) throw IoError(where + ": shape entries must be non-negative integers");
    const uint64_t n = d.get<uint64_t>();
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
    info.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(n, std::numeric_limits<int64_t>::max())));
    if (n != 0 && bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / n) overflow = true;
    if (!overflow) bytes *= n;
  }
  const bool has_zero = std::find(info.shape.begin(), info.shape.end(), 0) != info.shape.end();
  if (overflow && !has_zero) throw IoError(where + ": shape " + shape.dump() + " is absurdly large");
  if (has_zero) bytes = 0;
  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2) throw IoError(where + ": data_offsets must be [begin, end]");
  info.begin = AsOffset(off[0], where);
  info.end = AsOffset(off[1], where);
  if (info.end < info.begin) throw IoError(where + ": data_offsets end before begin");
  if (info.end - info.begin != bytes) {
    throw IoError(where + ": " + std::to_string(info.end - info.begin) + " bytes for dtype " +
                  Row(info.dtype).name + " and shape " + ShapeString(info.shape) + " (needs " +
                  std::to_string(bytes) + ")");
  }
  return info;
}

// Writes every byte to `fd`, syncs and closes it; returns why it failed ("" when it did not).
std::string WriteAllAndSync(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return why;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return why;
  }
  return ::close(fd) == 0 ? "" : std::strerror(errno);
}

}  // namespace

const char* SafeDTypeName(SafeDType dtype) { return Row(dtype).name; }
size_t SafeDTypeSize(SafeDType dtype) { return Row(dtype).size; }
torch::ScalarType ToScalarType(SafeDType dtype) { return Row(dtype).scalar; }

int64_t SafeTensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafeTensorsFile::SafeTensorsFile(const std::string& path, const SafeTensorsLimits& limits) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(path + ": not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw IoError(path + ": too short for a safetensors file (" + std::to_string(size) + " bytes)");
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw IoError(path + ": cannot map (" + std::strerror(errno) + ")");
  map_ = static_cast<const uint8_t*>(m);
  map_size_ = size;
  try {
    const uint64_t header_len = ReadLe64(map_);
    if (header_len > limits.max_header_bytes) {
      throw IoError(path + ": header length " + std::to_string(header_len) + " exceeds the limit of " +
                    std::to_string(limits.max_header_bytes) + " bytes");
    }
    if (header_len > size - 8) {
      throw IoError(path + ": header length " + std::to_string(header_len) + " runs past the end of the file (" +
                    std::to_string(size) + " bytes; truncated?)");
    }
    const char* hdr = reinterpret_cast<const char*>(map_ + 8);
    if (JsonDepth(hdr, header_len) > limits.max_json_depth) throw IoError(path + ": header nested too deeply");
    json header;
    try {
      header = json::parse(hdr, hdr + header_len);
    } catch (const json::exception& e) {
      throw IoError(path + ": header is not valid JSON (" + e.what() + ")");
    }
    if (!header.is_object()) throw IoError(path + ": header must be a JSON object");
    data_ = map_ + 8 + header_len;
    const uint64_t buffer_size = size - 8 - header_len;
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) throw IoError(path + ": __metadata__ must be an object of strings");
        for (const auto& [k, v] : entry.items()) {
          if (!v.is_string()) throw IoError(path + ": __metadata__ value of '" + k + "' is not a string");
          metadata_[k] = v.get<std::string>();
        }
        continue;
      }
      tensors_.push_back(ParseEntry(name, entry, limits, path));
    }
    // Offsets must tile the buffer exactly: in order, no gap, no overlap, nothing past the end.
    std::vector<const SafeTensorInfo*> by_offset;
    for (const auto& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const SafeTensorInfo* a, const SafeTensorInfo* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t expected = 0;
    for (const auto* t : by_offset) {
      if (t->end > buffer_size) {
        throw IoError(path + ": tensor '" + t->name + "' data_offsets [" + std::to_string(t->begin) + ", " +
                      std::to_string(t->end) + "] out of range (data buffer holds " + std::to_string(buffer_size) +
                      " bytes)");
      }
      if (t->begin != expected) {
        throw IoError(path + ": tensor '" + t->name + "' starts at byte " + std::to_string(t->begin) +
                      (t->begin < expected ? " and overlaps the previous tensor" : " and leaves a gap") +
                      " (expected " + std::to_string(expected) + ")");
      }
      expected = t->end;
    }
    if (expected != buffer_size) {
      throw IoError(path + ": " + std::to_string(buffer_size - expected) +
                    " bytes of data buffer belong to no tensor");
    }
    for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), map_size_);
    map_ = nullptr;
    throw;
  }
}

SafeTensorsFile::~SafeTensorsFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

SafeTensorsFile::SafeTensorsFile(SafeTensorsFile&& o) noexcept { *this = std::move(o); }

SafeTensorsFile& SafeTensorsFile::operator=(SafeTensorsFile&& o) noexcept {
  if (this != &o) {
    if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
    path_ = std::move(o.path_);
    map_ = o.map_;
    map_size_ = o.map_size_;
    data_ = o.data_;
    tensors_ = std::move(o.tensors_);
    index_ = std::move(o.index_);
    metadata_ = std::move(o.metadata_);
    o.map_ = nullptr;
    o.data_ = nullptr;
    o.map_size_ = 0;
  }
  return *this;
}

const SafeTensorInfo* SafeTensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

torch::Tensor SafeTensorsFile::Get(const std::string& name) const {
  const SafeTensorInfo* info = Find(name);
  if (info == nullptr) throw IoError(path_ + ": no tensor named '" + name + "'");
  const uint8_t* src = data_ + info->begin;
  const size_t bytes = info->end - info->begin;
  if (info->dtype == SafeDType::kBool) {
    // A byte other than 0/1 is not a valid bool for LibTorch: read as bytes, compare.
    auto u8 = torch::empty(info->shape, torch::kUInt8);
    if (bytes) std::memcpy(u8.data_ptr(), src, bytes);
    return u8.ne(0);
  }
  // Copied (not wrapped) so the tensor outlives the mapping and is aligned whatever the file's offsets are.
  auto out = torch::empty(info->shape, ToScalarType(info->dtype));
  if (bytes) std::memcpy(out.data_ptr(), src, bytes);
  return out;
}

torch::Tensor SafeTensorsFile::Get(const std::string& name, torch::ScalarType dtype) const {
  auto t = Get(name);
  return t.scalar_type() == dtype ? t : t.to(dtype);
}

torch::Tensor SafeTensorsFile::View(const std::string& name) const {
  const SafeTensorInfo* info = Find(name);
  if (info == nullptr) throw IoError(path_ + ": no tensor named '" + name + "'");
  if (info->dtype == SafeDType::kBool) return Get(name);  // bytes other than 0/1 need the checked copy
  void* src = const_cast<uint8_t*>(data_ + info->begin);
  return torch::from_blob(src, info->shape, torch::TensorOptions().dtype(ToScalarType(info->dtype)));
}

NamedTensors ReadSafeTensors(const std::string& path) {
  SafeTensorsFile f(path);
  NamedTensors out;
  for (const auto& t : f.tensors()) out.emplace_back(t.name, f.Get(t.name));
  return out;
}

void AppendFileSynced(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  if (const std::string why = WriteAllAndSync(fd, bytes); !why.empty()) {
    throw IoError(path + ": write failed (" + why + ")");
  }
}

void WriteFileAtomic(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string tmp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()))).string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(path + ": cannot create (" + std::strerror(errno) + ")");
  if (const std::string why = WriteAllAndSync(fd, bytes); !why.empty()) {
    ::unlink(tmp.c_str());
    throw IoError(path + ": write failed (" + why + ")");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw IoError(path + ": cannot rename into place (" + why + ")");
  }
  // The rename itself is durable only once the folder is synced.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void WriteSafeTensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  struct Entry {
    std::string name;
    torch::Tensor tensor;
    SafeDType dtype;
  };
  std::set<std::string> seen;
  std::vector<Entry> sorted;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__") throw ModelError(path + ": invalid tensor name '" + name + "'");
    if (!seen.insert(name).second) throw ModelError(path + ": tensor '" + name + "' given twice");
    if (!t.defined()) throw ModelError(path + ": tensor '" + name + "' is undefined");
    SafeDType d = SafeDType::kF32;
    if (!FromScalarType(t.scalar_type(), d)) {
      throw ModelError(path + ": tensor '" + name + "' has dtype " + std::string(c10::toString(t.scalar_type())) +
                       ", which safetensors cannot hold");
    }
    sorted.push_back({name, t.detach().to(torch::kCPU).contiguous(), d});
  }
  std::sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& e : sorted) {
    const uint64_t bytes = static_cast<uint64_t>(e.tensor.numel()) * SafeDTypeSize(e.dtype);
    header[e.name] = {{"dtype", SafeDTypeName(e.dtype)},
                      {"shape", e.tensor.sizes().vec()},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Padding the header to 8 bytes keeps every tensor of an 8-byte dtype aligned in a mapped file.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff));
  out += text;
  for (const auto& e : sorted) {
    const size_t bytes = static_cast<size_t>(e.tensor.numel()) * SafeDTypeSize(e.dtype);
    if (bytes) out.append(static_cast<const char*>(e.tensor.data_ptr()), bytes);
  }
  WriteFileAtomic(path, out);
}

}  // namespace fas
