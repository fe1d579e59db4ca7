#include <gtest/gtest.h>

#include "fas/config/binder.h"
#include "support/test_support.h"

namespace {

struct HeadConfig {
  int num_queries = 2;
  double dropout = 0.4;
  std::string pooling = "flatten";
  template <class V>
  void Visit(V& v) {
    v("num_queries", num_queries);
    v("dropout", dropout);
    v("pooling", pooling);
  }
};

struct EvalSet {
  std::string name;
  std::string manifest;
  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("manifest", manifest);
  }
};

struct Experiment {
  std::string name = "fas";
  uint64_t seed = 42;
  bool frozen = true;
  HeadConfig head;
  std::vector<int> k;
  std::vector<EvalSet> eval;
  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("seed", seed);
    v("frozen", frozen);
    v("head", head);
    v("k", k);
    v("eval", eval);
  }
};

using fas::testing::TempDir;
using fas::testing::WriteFile;

std::string ErrorOf(const std::function<void()>& f) { return fas::testing::ErrorOf<fas::ConfigError>(f); }

TEST(Config, DefaultsHoldWhenFileIsSilent) {
  TempDir d;
  WriteFile(d / "a.yaml", "name: x\n");
  auto c = fas::LoadConfig<Experiment>({d / "a.yaml"});
  EXPECT_EQ(c.name, "x");
  EXPECT_EQ(c.head.num_queries, 2);
  EXPECT_EQ(c.seed, 42u);
}

TEST(Config, ExtendsMergesBaseThenOverrides) {
  TempDir d;
  WriteFile(d / "base.yaml", "name: base\nseed: 1\nhead:\n  num_queries: 4\n  dropout: 0.1\n");
  WriteFile(d / "sub/child.yaml", "extends: ../base.yaml\nhead:\n  dropout: 0.2\n");
  auto c = fas::LoadConfig<Experiment>({d / "sub/child.yaml"});
  EXPECT_EQ(c.name, "base");
  EXPECT_EQ(c.head.num_queries, 4);  // kept from the base: maps merge key by key
  EXPECT_DOUBLE_EQ(c.head.dropout, 0.2);
}

TEST(Config, LaterFilesWinAndSetWinsOverFiles) {
  TempDir d;
  WriteFile(d / "a.yaml", "seed: 1\nhead: {num_queries: 3}\nk: [1, 2]\n");
  WriteFile(d / "b.yaml", "seed: 2\n");
  auto c = fas::LoadConfig<Experiment>({d / "a.yaml", d / "b.yaml"},
                                       {"head.num_queries=8", "k=[5, 6, 7]", "eval=[{name: t, manifest: t.jsonl}]"});
  EXPECT_EQ(c.seed, 2u);
  EXPECT_EQ(c.head.num_queries, 8);
  EXPECT_EQ(c.k, (std::vector<int>{5, 6, 7}));
  ASSERT_EQ(c.eval.size(), 1u);
  EXPECT_EQ(c.eval[0].manifest, "t.jsonl");
}

TEST(Config, UnknownKeyNamesKeyFileLineAndSuggestion) {
  TempDir d;
  WriteFile(d / "a.yaml", "name: x\nhead:\n  dropout: 0.1\n  num_querys: 3\n");
  const std::string msg = ErrorOf([&] { fas::LoadConfig<Experiment>({d / "a.yaml"}); });
  EXPECT_NE(msg.find("head.num_querys"), std::string::npos) << msg;
  EXPECT_NE(msg.find(d / "a.yaml:4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'head.num_queries'"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesKeyValueAndExpectedType) {
  TempDir d;
  WriteFile(d / "a.yaml", "seed: 1\nhead:\n  num_queries: two\n");
  const std::string msg = ErrorOf([&] { fas::LoadConfig<Experiment>({d / "a.yaml"}); });
  EXPECT_NE(msg.find("head.num_queries"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'two'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("an integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find(d / "a.yaml:3"), std::string::npos) << msg;

  const std::string bad_set = ErrorOf([&] { fas::LoadConfig<Experiment>({d / "a.yaml"}, {"frozen=maybe"}); });
  EXPECT_NE(bad_set.find("frozen"), std::string::npos) << bad_set;
  EXPECT_NE(bad_set.find("true or false"), std::string::npos) << bad_set;
  EXPECT_NE(bad_set.find("--set"), std::string::npos) << bad_set;
}

TEST(Config, UnknownKeyFromSetIsAnError) {
  TempDir d;
  WriteFile(d / "a.yaml", "seed: 1\n");
  const std::string msg = ErrorOf([&] { fas::LoadConfig<Experiment>({d / "a.yaml"}, {"sed=3"}); });
  EXPECT_NE(msg.find("unknown config key 'sed'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'seed'"), std::string::npos) << msg;
}

TEST(Config, ExtendsLoopAndMissingFileAreErrors) {
  TempDir d;
  WriteFile(d / "a.yaml", "extends: b.yaml\n");
  WriteFile(d / "b.yaml", "extends: a.yaml\n");
  EXPECT_NE(ErrorOf([&] { fas::LoadConfig<Experiment>({d / "a.yaml"}); }).find("loops"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { fas::LoadConfig<Experiment>({d / "none.yaml"}); }).find("not found"), std::string::npos);
}

TEST(Config, ToStringReadsBackToTheSameValues) {
  Experiment c;
  c.name = "a: tricky name";
  c.head.dropout = 1e-4;
  c.k = {8, 16};
  c.eval = {{"test", "test.jsonl"}, {"conflict", "conflict.jsonl"}};
  const std::string text = fas::ConfigToString(c);
  auto back = fas::BindConfig<Experiment>(fas::ParseYaml(text, "printed"));
  EXPECT_EQ(back.name, c.name);
  EXPECT_DOUBLE_EQ(back.head.dropout, 1e-4);
  EXPECT_EQ(back.k, c.k);
  ASSERT_EQ(back.eval.size(), 2u);
  EXPECT_EQ(back.eval[1].name, "conflict");
  EXPECT_EQ(fas::ConfigToString(back), text);
}

}  // namespace
