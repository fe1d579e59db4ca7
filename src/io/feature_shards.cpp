#include "fas/io/feature_shards.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "fas/core/error.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace fas {
namespace {

constexpr const char* kIndex = "index.jsonl";

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

bool IsShardFile(const std::string& name) {
  return name.rfind("shard-", 0) == 0 && name.size() > 12 && name.substr(name.size() - 12) == ".safetensors";
}

}  // namespace

std::string Checksum64(std::string_view bytes) {
  uint64_t lane[4] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL, 0x27d4eb2f165667c5ULL};
  const size_t words = bytes.size() / 8;
  size_t i = 0;
  for (; i + 4 <= words; i += 4) {
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, bytes.data() + 8 * (i + static_cast<size_t>(k)), 8);
      lane[k] = Rotl(lane[k] ^ (w * 0x9fb21c651e98df25ULL), 29) * 0xc2b2ae3d27d4eb4fULL;
    }
  }
  uint64_t h = bytes.size();
  for (int k = 0; k < 4; ++k) h = Rotl(h ^ lane[k], 27) * 0x9e3779b97f4a7c15ULL + 0x85ebca77c2b2ae63ULL;
  for (size_t b = 8 * i; b < bytes.size(); ++b) {
    h = (h ^ static_cast<unsigned char>(bytes[b])) * 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

ShardStoreLock::ShardStoreLock(const std::string& dir) {
  fs::create_directories(dir);
  const std::string path = dir + "/lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError(path + ": cannot open the store's lock (" + std::strerror(errno) + ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  spdlog::info("feature store {}: another process is extracting into it; waiting for it to finish", dir);
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) throw IoError(path + ": cannot lock (" + std::strerror(errno) + ")");
  }
}

ShardStoreLock::~ShardStoreLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

ShardStore::ShardStore(std::string dir, std::string rebuild_hint)
    : dir_(std::move(dir)), rebuild_hint_(std::move(rebuild_hint)) {
  fs::create_directories(dir_);
  ReadIndex();
}

bool ShardStore::Has(const std::string& key) const { return entries_.count(key) != 0; }
int64_t ShardStore::size() const { return static_cast<int64_t>(entries_.size()); }
int64_t ShardStore::shards() const { return static_cast<int64_t>(shards_.size()); }

void ShardStore::Refresh() { ReadIndex(); }

void ShardStore::ReadIndex() {
  const std::string path = dir_ + "/" + kIndex;
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  in.seekg(static_cast<std::streamoff>(index_bytes_read_));
  std::string line;
  // Only complete lines count: the last one may be a killed writer's half line.
  while (std::getline(in, line) && !in.eof()) {
    json j;
    try {
      j = json::parse(line);
      Shard s{j.at("shard").get<std::string>(), j.at("bytes").get<uint64_t>(), j.at("checksum").get<std::string>()};
      for (const auto& [key, e] : j.at("entries").items()) entries_[key] = Entry{shards_.size()};
      shards_.push_back(std::move(s));
    } catch (const json::exception& e) {
      throw IoError(path + ": line after byte " + std::to_string(index_bytes_read_) + " is not a shard record (" +
                    e.what() + "); delete the store folder " + dir_ + " and extract again");
    }
    index_bytes_read_ += line.size() + 1;
  }
}

void ShardStore::RemoveUnfinished() {
  Refresh();
  std::set<std::string> indexed;
  for (const Shard& s : shards_) indexed.insert(s.file);
  for (const auto& f : fs::directory_iterator(dir_)) {
    const std::string name = f.path().filename().string();
    const bool temporary = name.rfind(".", 0) == 0 && name.find(".tmp.") != std::string::npos;
    if (temporary || (IsShardFile(name) && indexed.count(name) == 0)) {
      spdlog::info("feature store {}: removing {}, left by an extraction that did not finish", dir_, name);
      fs::remove(f.path());
    }
  }
  const std::string index = dir_ + "/" + kIndex;
  if (fs::exists(index) && fs::file_size(index) > index_bytes_read_) fs::resize_file(index, index_bytes_read_);
}

void ShardStore::AppendShard(const NamedTensors& entries, const std::vector<std::string>& ids) {
  if (entries.empty()) return;
  int next = 0;
  for (const Shard& s : shards_) next = std::max(next, std::stoi(s.file.substr(6, 6)) + 1);
  char name[32];
  std::snprintf(name, sizeof(name), "shard-%06d.safetensors", next);
  const std::string path = dir_ + "/" + name;
  WriteSafeTensors(path, entries);  // temporary name, sync, rename

  const SafeTensorsFile written(path);
  uint64_t buffer = 0;
  for (const auto& t : written.tensors()) buffer = std::max(buffer, t.end);
  const uint64_t data_start = written.bytes().size() - buffer;
  json record = {{"shard", name}, {"bytes", written.bytes().size()}, {"checksum", Checksum64(written.bytes())}};
  json listed = json::object();
  for (size_t k = 0; k < entries.size(); ++k) {
    const SafeTensorInfo* t = written.Find(entries[k].first);
    listed[entries[k].first] = {
        {"id", ids[k]}, {"dtype", SafeDTypeName(t->dtype)}, {"shape", t->shape}, {"offset", data_start + t->begin}};
  }
  record["entries"] = std::move(listed);
  AppendFileSynced(dir_ + "/" + kIndex, record.dump() + "\n");
  ReadIndex();
}

void ShardStore::DropShard(const std::string& shard_file) {
  const std::string name = fs::path(shard_file).filename().string();
  const std::string index = dir_ + "/" + kIndex;
  std::ifstream in(index, std::ios::binary);
  std::string kept, line;
  bool found = false;
  while (std::getline(in, line) && !in.eof()) {
    if (json::parse(line).at("shard").get<std::string>() == name) {
      found = true;
      continue;
    }
    kept += line + "\n";
  }
  if (!found) throw IoError("feature store " + dir_ + " has no shard '" + name + "' in its index");
  WriteFileAtomic(index, kept);
  fs::remove(dir_ + "/" + name);
  std::lock_guard<std::mutex> lock(mu_);
  shards_.clear();
  entries_.clear();
  mapped_.clear();
  index_bytes_read_ = 0;
  ReadIndex();
}

const SafeTensorsFile& ShardStore::Mapped(size_t shard) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mapped_.find(shard);
  if (it != mapped_.end()) return *it->second;
  const std::string path = ShardPath(shard);
  const std::string fix = rebuild_hint_.empty() ? "" : "; rebuild just that shard: " + [&] {
    std::string h = rebuild_hint_;
    const size_t at = h.find("{shard}");
    if (at != std::string::npos) h.replace(at, 7, path);
    return h;
  }();
  std::error_code ec;
  const uint64_t on_disk = fs::file_size(path, ec);
  if (ec) throw IoError("feature store shard " + path + " is missing" + fix);
  if (on_disk != shards_[shard].bytes) {
    throw IoError("feature store shard " + path + " is truncated or overwritten (" + std::to_string(on_disk) +
                  " bytes, the index says " + std::to_string(shards_[shard].bytes) + ")" + fix);
  }
  std::unique_ptr<SafeTensorsFile> file;
  try {
    file = std::make_unique<SafeTensorsFile>(path);
  } catch (const IoError& e) {
    throw IoError("feature store shard " + path + " is unreadable (" + e.what() + ")" + fix);
  }
  const std::string sum = Checksum64(file->bytes());
  if (sum != shards_[shard].checksum) {
    throw IoError("feature store shard " + path + " is corrupt (checksum " + sum + ", the index says " +
                  shards_[shard].checksum + ")" + fix);
  }
  return *mapped_.emplace(shard, std::move(file)).first->second;
}

torch::Tensor ShardStore::Get(const std::string& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) throw IoError("feature store " + dir_ + " has no entry '" + key + "'");
  return Mapped(it->second.shard).View(key);
}

}  // namespace fas
