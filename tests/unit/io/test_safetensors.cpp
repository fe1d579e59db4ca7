#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "fas/core/error.h"
#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;
using fas::testing::WriteFile;

// A raw file: 8-byte little-endian length, the header text as given, then `data` bytes.
std::string RawFile(const std::string& header, const std::string& data, uint64_t claimed_len = UINT64_MAX) {
  const uint64_t len = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  return out + header + data;
}

std::string ErrorOf(const std::string& path) {
  try {
    fas::SafeTensorsFile f(path);
  } catch (const fas::IoError& e) {
    return e.what();
  }
  return "";
}

TEST(SafeTensors, RoundTripsEveryDtypeAndMetadata) {
  TempDir d;
  fas::NamedTensors in = {
      {"f64", torch::randn({2, 3}, torch::kFloat64)},
      {"f32", torch::randn({4})},
      {"f16", torch::randn({3, 1}).to(torch::kFloat16)},
      {"bf16", torch::randn({5}).to(torch::kBFloat16)},
      {"i64", torch::arange(6, torch::kInt64).reshape({2, 3})},
      {"i32", torch::arange(-3, 3, torch::kInt32)},
      {"i16", torch::arange(4, torch::kInt16)},
      {"i8", torch::arange(-2, 2, torch::kInt8)},
      {"u8", torch::arange(250, 256, torch::kInt32).to(torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"empty", torch::zeros({0, 7})},
      {"scalar", torch::tensor(2.5)},
      {"strided", torch::randn({4, 6}).t()},
  };
  fas::WriteSafeTensors(d / "a.safetensors", in, {{"format", "pt"}});
  fas::SafeTensorsFile f(d / "a.safetensors");
  ASSERT_EQ(f.tensors().size(), in.size());
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (const auto& [name, t] : in) {
    auto got = f.Get(name);
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, t)) << name;
  }
  EXPECT_TRUE(torch::allclose(f.Get("f16", torch::kFloat32), in[2].second.to(torch::kFloat32)));
  EXPECT_EQ(f.Get("i64", torch::kFloat32).scalar_type(), torch::kFloat32);
  EXPECT_THROW(f.Get("nope"), fas::IoError);
  // Header padded to 8 bytes so 8-byte tensors stay aligned in the mapping.
  const std::string raw = fas::testing::ReadFile(d / "a.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ(n % 8, 0u);
}

TEST(SafeTensors, WriteIsAtomicAndReplacesTheFile) {
  TempDir d;
  fas::WriteSafeTensors(d / "w.safetensors", {{"a", torch::ones({2})}});
  fas::WriteSafeTensors(d / "w.safetensors", {{"b", torch::zeros({3})}});
  fas::SafeTensorsFile f(d / "w.safetensors");
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].name, "b");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(d.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);  // no temporary left behind
  EXPECT_THROW(fas::WriteSafeTensors(d / "no/such/dir/x.safetensors", {{"a", torch::ones({1})}}), fas::IoError);
  EXPECT_THROW(fas::WriteSafeTensors(d / "c.safetensors", {{"a", torch::ones({1})}, {"a", torch::ones({1})}}),
               fas::ModelError);
  EXPECT_THROW(fas::WriteSafeTensors(d / "c.safetensors", {{"c", torch::ones({1}, torch::kComplexFloat)}}),
               fas::ModelError);
}

struct Hostile {
  const char* what;
  std::string bytes;
  const char* expect;  // part of the error message
};

TEST(SafeTensors, HostileFilesGiveCleanErrors) {
  const std::string f32x2(8, '\0');
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string two = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  std::string valid = RawFile(ok, f32x2);
  const std::vector<Hostile> cases = {
      {"empty file", "", "too short"},
      {"truncated length", std::string("\x10\0\0", 3), "too short"},
      {"truncated data", valid.substr(0, valid.size() - 3), "out of range"},
      {"header past end", RawFile(ok, f32x2, 1000), "past the end"},
      {"header too long", RawFile(ok, f32x2, uint64_t{1} << 40), "exceeds the limit"},
      {"not json", RawFile("{\"a\": [1, 2", ""), "not valid JSON"},
      {"not an object", RawFile("[1,2]", ""), "must be a JSON object"},
      {"too deep", RawFile(std::string(200, '[') + std::string(200, ']'), ""), "nested too deeply"},
      {"offsets out of range", RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", f32x2),
       "out of range"},
      {"overlapping", RawFile(two, std::string(12, '\0')), "overlaps"},
      {"gap", RawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2), "gap"},
      {"trailing bytes", RawFile(ok, f32x2 + "xxxx"), "belong to no tensor"},
      {"wrong dtype size", RawFile(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", f32x2),
       "needs 16"},
      {"unknown dtype", RawFile(R"({"a":{"dtype":"F8","shape":[2],"data_offsets":[0,8]}})", f32x2),
       "unsupported dtype"},
      {"non-string metadata", RawFile(R"({"__metadata__":{"x":1},"a":{"dtype":"F32","shape":[2],)"
                                      R"("data_offsets":[0,8]}})",
                                      f32x2),
       "not a string"},
      {"metadata not an object", RawFile(R"({"__metadata__":"x"})", ""), "__metadata__"},
      {"absurd shape", RawFile(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", f32x2),
       "absurdly large"},
      {"negative shape", RawFile(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2),
       "non-negative"},
      {"negative offset", RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", f32x2),
       "non-negative"},
      {"reversed offsets", RawFile(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32x2),
       "end before begin"},
      {"missing field", RawFile(R"({"a":{"dtype":"F32","shape":[2]}})", f32x2), "needs dtype"},
      {"extra field", RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", f32x2),
       "unknown field"},
      {"float shape", RawFile(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", f32x2),
       "non-negative integers"},
      {"rank too high", RawFile(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2],)"
                                R"("data_offsets":[0,8]}})",
                                f32x2),
       "rank 21"},
      {"empty name", RawFile(R"({"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32x2), "empty name"},
  };
  TempDir d;
  for (const auto& c : cases) {
    const std::string path = d / "h.safetensors";
    WriteFile(path, c.bytes);
    const std::string msg = ErrorOf(path);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.what << ": '" << msg << "'";
    EXPECT_NE(msg.find(path), std::string::npos) << c.what << ": the message names the file";
  }
  EXPECT_NE(ErrorOf(d / "absent.safetensors").find("cannot open"), std::string::npos);
  EXPECT_NE(ErrorOf(d.path()).find("not a regular file"), std::string::npos);
  // The valid base case really is valid, so each failure above comes from its one defect.
  WriteFile(d / "ok.safetensors", valid);
  EXPECT_EQ(ErrorOf(d / "ok.safetensors"), "");
}

TEST(SafeTensors, BoolBytesOtherThanOneAreTrue) {
  TempDir d;
  WriteFile(d / "b.safetensors",
            RawFile(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x00\x02\x01", 3)));
  auto m = fas::SafeTensorsFile(d / "b.safetensors").Get("m");
  EXPECT_TRUE(torch::equal(m, torch::tensor({false, true, true})));
}

}  // namespace
