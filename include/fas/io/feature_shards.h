// A sharded, memory-mapped, checksummed store of named tensors: the on-disk format of the feature store.
//
// Layout of a store folder:
//   store.json                  what the store holds (written once by its user: the key's parts, for people)
//   index.jsonl                 one line a finished shard: {"shard", "bytes", "checksum", "entries":
//                               {key: {"id", "dtype", "shape", "offset"}}} (offset: byte offset in the shard file)
//   shard-000000.safetensors    a safetensors file of many entries, one tensor an entry, named by its key
//   lock                        held (flock, exclusive) by the one process that extracts into the store
//
// Writing: a shard is written to a temporary name, synced and renamed, and only then is its line appended to the
// index (and synced). A process killed at any point leaves finished shards indexed and nothing else: a shard file
// without a line, a temporary file or a half-written last line are ignored by readers and removed by the next
// writer, so a resumed extraction computes exactly the entries no finished shard holds.
// Reading: the index's complete lines, shards mapped on first use (the data set can exceed RAM) and their
// checksum verified then, entries handed out as views of the mapping (no copy until the caller converts them).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fas/io/safetensors.h"

namespace fas {

// A fast 64-bit checksum of a byte range (four independent multiply-xor lanes over 8-byte words): catches
// truncation and bit rot, at memory speed, so verifying a shard costs about as much as reading it.
std::string Checksum64(std::string_view bytes);

// The exclusive writer's lock of a store folder (flock on DIR/lock): held while the object lives. Blocks while
// another process holds it, saying so once in the log.
class ShardStoreLock {
 public:
  explicit ShardStoreLock(const std::string& dir);
  ~ShardStoreLock();
  ShardStoreLock(const ShardStoreLock&) = delete;
  ShardStoreLock& operator=(const ShardStoreLock&) = delete;

 private:
  int fd_ = -1;
};

class ShardStore {
 public:
  // Opens (creating the folder when absent) and reads the index. `rebuild_hint`: the command that rebuilds a
  // shard, with {shard} where the shard's path goes; it ends the error about a corrupt or truncated shard.
  ShardStore(std::string dir, std::string rebuild_hint);

  const std::string& dir() const { return dir_; }
  bool Has(const std::string& key) const;
  int64_t size() const;  // entries in finished shards
  int64_t shards() const;

  // The entry as a view of the mapped shard (valid as long as this store lives), in its stored dtype. The shard's
  // checksum is verified the first time it is mapped. Throws IoError when the key is absent, or when the shard is
  // missing, truncated or corrupt (naming it and the command that rebuilds it).
  torch::Tensor Get(const std::string& key) const;

  // Reads index lines other processes have appended since.
  void Refresh();

  // Writer side; the caller holds a ShardStoreLock on dir(). Removes what a killed writer left (temporary files,
  // shard files without an index line, a half-written last index line).
  void RemoveUnfinished();
  // Writes `entries` (key → tensor, with the utterance id each belongs to) as one new shard and indexes it.
  void AppendShard(const NamedTensors& entries, const std::vector<std::string>& ids);
  // Drops a shard (its file and its index line): the next extraction computes its entries again.
  void DropShard(const std::string& shard_file);

 private:
  struct Entry {
    size_t shard = 0;
  };
  struct Shard {
    std::string file;  // name inside dir_
    uint64_t bytes = 0;
    std::string checksum;
  };
  void ReadIndex();
  std::string ShardPath(size_t shard) const { return dir_ + "/" + shards_[shard].file; }
  const SafeTensorsFile& Mapped(size_t shard) const;

  std::string dir_, rebuild_hint_;
  std::vector<Shard> shards_;
  std::map<std::string, Entry> entries_;
  uint64_t index_bytes_read_ = 0;  // complete lines already read
  mutable std::mutex mu_;
  mutable std::map<size_t, std::unique_ptr<SafeTensorsFile>> mapped_;
};

}  // namespace fas
