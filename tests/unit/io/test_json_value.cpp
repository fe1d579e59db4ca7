// JsonTo / ReadJsonField: numbers from files somebody else wrote are taken only when the target type holds them
// exactly (a float-to-int cast out of range is undefined behaviour; UBSan found one in config.json import).
#include <gtest/gtest.h>

#include "fas/io/json_value.h"

namespace fas {
namespace {

using nlohmann::json;

TEST(JsonTo, IntegersMustFitTheTargetType) {
  int i = -1;
  EXPECT_TRUE(JsonTo(json(12), i));
  EXPECT_EQ(i, 12);
  EXPECT_TRUE(JsonTo(json::parse("12.0"), i)) << "HuggingFace configs sometimes write integers as floats";
  EXPECT_EQ(i, 12);
  EXPECT_FALSE(JsonTo(json::parse("12.5"), i));
  EXPECT_FALSE(JsonTo(json::parse("1e300"), i));
  EXPECT_FALSE(JsonTo(json::parse("-1e300"), i));
  EXPECT_FALSE(JsonTo(json::parse("2147483648"), i));
  EXPECT_FALSE(JsonTo(json::parse("2147483648.0"), i));
  EXPECT_TRUE(JsonTo(json::parse("-2147483648.0"), i));
  EXPECT_EQ(i, -2147483648);
  EXPECT_FALSE(JsonTo(json::parse("18446744073709551615"), i));
  EXPECT_FALSE(JsonTo(json("12"), i));
  EXPECT_FALSE(JsonTo(json(true), i));
  EXPECT_EQ(i, -2147483648) << "a refused value leaves the target unchanged";

  int64_t l = 0;
  EXPECT_FALSE(JsonTo(json::parse("9223372036854775808"), l));
  EXPECT_FALSE(JsonTo(json::parse("9.3e18"), l));
  EXPECT_TRUE(JsonTo(json::parse("9223372036854775807"), l));
  uint64_t u = 0;
  EXPECT_FALSE(JsonTo(json(-1), u));
  EXPECT_FALSE(JsonTo(json::parse("-1.0"), u));
  EXPECT_TRUE(JsonTo(json::parse("18446744073709551615"), u));
}

TEST(JsonTo, FloatsStringsBoolsAndLists) {
  float f = 0;
  EXPECT_TRUE(JsonTo(json(3), f));
  EXPECT_FLOAT_EQ(f, 3.0f);
  EXPECT_FALSE(JsonTo(json::parse("1e300"), f)) << "out of float's range";
  double d = 0;
  EXPECT_TRUE(JsonTo(json::parse("1e300"), d));
  EXPECT_FALSE(JsonTo(json("x"), d));
  bool b = false;
  EXPECT_FALSE(JsonTo(json(1), b));
  EXPECT_TRUE(JsonTo(json(true), b));
  std::string s;
  EXPECT_FALSE(JsonTo(json(1), s));
  std::vector<int64_t> v{7};
  EXPECT_FALSE(JsonTo(json::parse("[512, 1e300]"), v));
  EXPECT_EQ(v, std::vector<int64_t>{7}) << "a list is taken whole or not at all";
  EXPECT_TRUE(JsonTo(json::parse("[512, 3.0]"), v));
  EXPECT_EQ(v, (std::vector<int64_t>{512, 3}));
}

TEST(ReadJsonField, NamesTheFileAndTheField) {
  const json j = json::parse(R"({"hidden_size": 1e300, "layers": null, "eps": 1e-5})");
  int64_t hidden = 768;
  try {
    ReadJsonField(j, "hidden_size", hidden, "model/config.json");
    FAIL() << "1e300 accepted as an int64";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model/config.json: field 'hidden_size'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(hidden, 768);
  int layers = 12;
  ReadJsonField(j, "layers", layers, "f");
  ReadJsonField(j, "absent", layers, "f");
  EXPECT_EQ(layers, 12) << "absent and null keep the default";
  double eps = 0;
  ReadJsonField(j, "eps", eps, "f");
  EXPECT_DOUBLE_EQ(eps, 1e-5);
  EXPECT_THROW(JsonAs<int>(json::parse("3.5"), "step"), IoError);
}

}  // namespace
}  // namespace fas
