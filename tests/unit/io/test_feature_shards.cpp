// The feature store's format: shards and their index, what a killed writer leaves, checksums, readers beside a
// writer, the writer's lock.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "fas/core/error.h"
#include "fas/io/feature_shards.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::NamedTensors;
using fas::ShardStore;
using fas::testing::TempDir;

namespace {

const char* kHint = "fas extract --config C --rebuild-shard {shard}";

NamedTensors Entries(const std::string& prefix, int n, torch::ScalarType dtype = torch::kFloat32) {
  NamedTensors out;
  for (int i = 0; i < n; ++i) {
    out.emplace_back(prefix + std::to_string(i), torch::randn({2, 3 + i, 4}).to(dtype));
  }
  return out;
}

std::vector<std::string> Ids(const NamedTensors& entries) {
  std::vector<std::string> ids;
  for (const auto& e : entries) ids.push_back("utt-" + e.first);
  return ids;
}

void Append(ShardStore& store, const NamedTensors& entries) { store.AppendShard(entries, Ids(entries)); }

void AppendText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

TEST(FeatureShards, EntriesComeBackFromAnotherOpening) {
  TempDir d;
  const NamedTensors a = Entries("a", 3), b = Entries("b", 2, torch::kBFloat16);
  {
    ShardStore store(d / "s", kHint);
    Append(store, a);
    Append(store, b);
    EXPECT_EQ(store.shards(), 2);
  }
  const ShardStore store(d / "s", kHint);
  EXPECT_EQ(store.size(), 5);
  for (const auto& [key, t] : a) EXPECT_TRUE(torch::equal(store.Get(key), t)) << key;
  for (const auto& [key, t] : b) {
    EXPECT_EQ(store.Get(key).scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(torch::equal(store.Get(key), t)) << key;
  }
  EXPECT_FALSE(store.Has("c0"));
  EXPECT_THROW(store.Get("c0"), fas::IoError);
}

// The index says where each entry lies: a reader with numpy needs only the shard file, the offset and the shape.
TEST(FeatureShards, TheIndexGivesEachEntrysOffsetShapeAndDtype) {
  TempDir d;
  ShardStore store(d / "s", kHint);
  const NamedTensors a = Entries("a", 2);
  Append(store, a);
  const auto lines = fas::testing::JsonLines(d / "s/index.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  const auto& e = lines[0].at("entries").at("a1");
  EXPECT_EQ(e.at("id"), "utt-a1");
  EXPECT_EQ(e.at("dtype"), "F32");
  EXPECT_EQ(e.at("shape"), nlohmann::json::parse("[2, 4, 4]"));
  std::ifstream shard(d / ("s/" + lines[0].at("shard").get<std::string>()), std::ios::binary);
  shard.seekg(e.at("offset").get<std::streamoff>());
  torch::Tensor read = torch::empty({2, 4, 4});
  shard.read(static_cast<char*>(read.data_ptr()), static_cast<std::streamsize>(read.nbytes()));
  EXPECT_TRUE(torch::equal(read, a[1].second));
}

// A writer killed between its steps leaves a shard without an index line, a temporary file and a half index line:
// readers see only finished shards, and the next writer removes the rest and continues.
TEST(FeatureShards, AKilledWritersLeftoversAreIgnoredThenRemoved) {
  TempDir d;
  const std::string dir = d / "s";
  {
    ShardStore store(dir, kHint);
    Append(store, Entries("a", 2));
  }
  fs::copy_file(dir + "/shard-000000.safetensors", dir + "/shard-000001.safetensors");
  fas::testing::WriteFile(dir + "/.shard-000002.safetensors.tmp.77", "partial");
  AppendText(dir + "/index.jsonl", R"({"bytes": 10, "checksum": "00", "entr)");
  ShardStore store(dir, kHint);
  EXPECT_EQ(store.size(), 2);
  EXPECT_EQ(store.shards(), 1);
  store.RemoveUnfinished();
  EXPECT_FALSE(fs::exists(dir + "/shard-000001.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/.shard-000002.safetensors.tmp.77"));
  Append(store, Entries("b", 1));
  const ShardStore again(dir, kHint);
  EXPECT_EQ(again.size(), 3);
  EXPECT_EQ(fas::testing::JsonLines(dir + "/index.jsonl").size(), 2u);
}

// A flipped byte or a cut file is one error naming the shard and the command that rebuilds just it.
TEST(FeatureShards, ACorruptOrTruncatedShardNamesItselfAndItsRebuild) {
  TempDir d;
  const std::string dir = d / "s";
  {
    ShardStore store(dir, kHint);
    Append(store, Entries("a", 2));
  }
  const std::string shard = dir + "/shard-000000.safetensors";
  std::string bytes = fas::testing::ReadFile(shard);
  bytes[bytes.size() - 3] ^= 0x10;
  fas::testing::WriteFile(shard, bytes);
  auto expect_error = [&](const std::string& what) {
    const ShardStore store(dir, kHint);
    try {
      store.Get("a0");
      FAIL() << "no error";
    } catch (const fas::IoError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("feature store shard " + shard + " is " + what), std::string::npos) << m;
      EXPECT_NE(m.find("rebuild just that shard: fas extract --config C --rebuild-shard " + shard), std::string::npos)
          << m;
    }
  };
  expect_error("corrupt (checksum");
  fs::resize_file(shard, bytes.size() - 100);
  expect_error("truncated");
}

// Two readers beside a writer: each sees the shards finished when it opened or refreshed, never a partial one.
TEST(FeatureShards, ReadersSeeWhatAWriterFinishes) {
  TempDir d;
  ShardStore writer(d / "s", kHint);
  const NamedTensors a = Entries("a", 2), b = Entries("b", 2);
  Append(writer, a);
  ShardStore first(d / "s", kHint);
  Append(writer, b);
  const ShardStore second(d / "s", kHint);
  EXPECT_FALSE(first.Has("b0"));
  first.Refresh();
  for (const ShardStore* r : {static_cast<const ShardStore*>(&first), &second}) {
    EXPECT_EQ(r->size(), 4);
    EXPECT_TRUE(torch::equal(r->Get("b1"), b[1].second));
    EXPECT_TRUE(torch::equal(r->Get("a0"), a[0].second));
  }
}

TEST(FeatureShards, DroppingAShardForgetsItsEntries) {
  TempDir d;
  ShardStore store(d / "s", kHint);
  Append(store, Entries("a", 2));
  Append(store, Entries("b", 2));
  store.DropShard(d / "s/shard-000000.safetensors");
  EXPECT_FALSE(store.Has("a0"));
  EXPECT_TRUE(store.Has("b0"));
  EXPECT_FALSE(fs::exists(d / "s/shard-000000.safetensors"));
  EXPECT_EQ(ShardStore(d / "s", kHint).size(), 2);
}

// A second writer waits for the first one's lock.
TEST(FeatureShards, TheLockAdmitsOneWriter) {
  TempDir d;
  auto held = std::make_unique<fas::ShardStoreLock>(d / "s");
  auto second = std::async(std::launch::async, [&] { fas::ShardStoreLock lock(d / "s"); });
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  held.reset();
  EXPECT_EQ(second.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST(FeatureShards, TheChecksumSeesOneBit) {
  std::string bytes(1001, 'x');
  const std::string sum = fas::Checksum64(bytes);
  for (size_t at : {size_t{0}, size_t{500}, size_t{1000}}) {
    std::string flipped = bytes;
    flipped[at] ^= 1;
    EXPECT_NE(fas::Checksum64(flipped), sum) << at;
  }
  EXPECT_NE(fas::Checksum64(bytes.substr(0, 1000)), sum);
}

}  // namespace
