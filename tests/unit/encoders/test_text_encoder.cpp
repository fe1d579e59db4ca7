// The text transformer against HuggingFace transformers 5.x: tiny random BertModel, RobertaForSequenceClassification
// and XLMRobertaModel saved with save_pretrained, every hidden state on a padded batch
// (scripts/fixtures/make_text_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "fas/core/error.h"
#include "fas/encoders/text_encoder.h"
#include "fas/io/safetensors.h"
#include "fas/io/state_dict.h"
#include "fas/text/tokenizer.h"
#include "support/test_support.h"

namespace {

std::string Fixture(const std::string& name) { return fas::testing::SourceDir() + "/tests/fixtures/text/" + name; }

// Largest absolute difference over every hidden state.
double MaxError(const std::string& dir) {
  fas::TextEncoderConfig cfg;
  cfg.hf_config = Fixture(dir + "/config.json");
  cfg.weights = Fixture(dir + "/model.safetensors");
  auto encoder = fas::CreateTextEncoder(cfg);
  encoder->eval();
  const fas::SafeTensorsFile inputs(Fixture(dir + "/inputs.safetensors"));
  const fas::SafeTensorsFile expected(Fixture(dir + "/expected.safetensors"));
  torch::NoGradGuard no_grad;
  const auto out = encoder->forward(inputs.Get("input_ids"), inputs.Get("attention_mask"));
  EXPECT_EQ(static_cast<int64_t>(out.hidden_states.size()), encoder->num_layers() + 1);
  double worst = 0;
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    const auto ref = expected.Get("hidden_states." + std::to_string(i));
    EXPECT_EQ(out.hidden_states[i].sizes(), ref.sizes());
    worst = std::max(worst, (out.hidden_states[i] - ref).abs().max().item<double>());
  }
  worst = std::max(worst, (out.last_hidden_state() - expected.Get("last_hidden_state")).abs().max().item<double>());
  EXPECT_TRUE(out.mask.equal(inputs.Get("attention_mask").to(torch::kBool)));
  EXPECT_TRUE(out.lengths.equal(inputs.Get("attention_mask").sum(1)));
  return worst;
}

size_t Skipped(const std::string& dir) {
  fas::TextEncoder encoder(fas::ReadHfTextConfig(Fixture(dir + "/config.json")));
  return encoder->LoadWeights(Fixture(dir + "/model.safetensors")).skipped.size();
}

TEST(TextEncoder, BertMatchesHuggingFace) {
  const double err = MaxError("bert");
  std::printf("bert fixture: max abs error %.3g\n", err);
  EXPECT_LT(err, 1e-4);
  EXPECT_EQ(Skipped("bert"), 2u);  // the pooler's weight and bias
}

// A sequence classifier's checkpoint: `roberta.` prefix, its head skipped.
TEST(TextEncoder, RobertaMatchesHuggingFaceAndSkipsHeads) {
  const double err = MaxError("roberta");
  std::printf("roberta fixture: max abs error %.3g\n", err);
  EXPECT_LT(err, 1e-4);
  EXPECT_EQ(Skipped("roberta"), 4u);  // classifier.dense and classifier.out_proj, weight and bias
}

TEST(TextEncoder, XlmRobertaMatchesHuggingFace) {
  const double err = MaxError("xlm-roberta");
  std::printf("xlm-roberta fixture: max abs error %.3g\n", err);
  EXPECT_LT(err, 1e-4);
  EXPECT_EQ(fas::ReadHfTextConfig(Fixture("xlm-roberta/config.json")).type, "xlm-roberta");
  EXPECT_EQ(Skipped("xlm-roberta"), 0u);
}

TEST(TextEncoder, RobertaPositionsSkipPadding) {
  fas::TextEncoderConfig cfg;
  cfg.type = "roberta";
  cfg.vocab_size = 20;
  cfg.pad_token_id = 1;
  fas::TextEncoder encoder(cfg);
  const auto ids = torch::tensor({{0, 5, 6, 2, 1, 1}}, torch::kInt64);
  EXPECT_TRUE(encoder->PositionIds(ids).equal(torch::tensor({{2, 3, 4, 5, 1, 1}}, torch::kInt64)));
  cfg.type = "bert";
  cfg.pad_token_id = 0;
  fas::TextEncoder bert(cfg);
  EXPECT_TRUE(bert->PositionIds(ids).equal(torch::arange(6).unsqueeze(0)));
}

TEST(TextEncoder, StrictLoadingNamesTheTensor) {
  auto cfg = fas::ReadHfTextConfig(Fixture("bert/config.json"));
  cfg.num_hidden_layers = 3;
  fas::TextEncoder more(cfg);
  try {
    more->LoadWeights(Fixture("bert/model.safetensors"));
    FAIL() << "a missing layer must fail";
  } catch (const fas::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layer.2."), std::string::npos) << e.what();
  }
  cfg.num_hidden_layers = 2;
  cfg.intermediate_size = 48;
  fas::TextEncoder narrow(cfg);
  try {
    narrow->LoadWeights(Fixture("bert/model.safetensors"));
    FAIL() << "a wrong shape must fail";
  } catch (const fas::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("intermediate.dense"), std::string::npos) << e.what();
  }
}

// Saved under our registered names: the names are HuggingFace's (the pooler, which we do not build, aside).
TEST(TextEncoder, SavedWeightsCarryHuggingFaceNames) {
  fas::testing::TempDir d;
  fas::TextEncoder encoder(fas::ReadHfTextConfig(Fixture("bert/config.json")));
  fas::SaveStateDict(*encoder, d / "w.safetensors");
  const fas::SafeTensorsFile saved(d / "w.safetensors");
  const fas::SafeTensorsFile ref(Fixture("bert/model.safetensors"));
  std::vector<std::string> a, b;
  for (const auto& t : saved.tensors()) a.push_back(t.name);
  for (const auto& t : ref.tensors()) {
    if (t.name.rfind("pooler.", 0) != 0) b.push_back(t.name);
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
}

// From scratch: the tokenizer sets the vocabulary, padding does not change real tokens' states, and a few steps
// of training lower a loss.
TEST(TextEncoder, TrainsFromScratchOnTokenizerIds) {
  fas::testing::TempDir d;
  std::vector<std::string> texts;
  for (int r = 0; r < 10; ++r) {
    texts.push_back("i am so happy today");
    texts.push_back("this is terrible news");
  }
  fas::TokenizerTrainOptions o;
  o.prefix = d / "tok";
  o.vocab_size = 30;
  fas::Tokenizer tok(fas::TokenizerConfig::ForModel(fas::TrainTokenizer(texts, o)));
  fas::TextEncoderConfig cfg;
  cfg.tokenizer = d / "tok.model";
  cfg.hidden_size = 32;
  cfg.intermediate_size = 64;
  cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = 0.0;
  auto encoder = fas::CreateTextEncoder(cfg);
  EXPECT_EQ(encoder->config().vocab_size, tok.vocab_size());

  const auto batch = tok.EncodeBatch({"i am so happy today", "this is terrible news", "happy"});
  const auto single = tok.EncodeBatch({"happy"});
  {
    torch::NoGradGuard no_grad;
    const auto a = encoder->forward(batch.input_ids, batch.attention_mask).last_hidden_state()[2];
    const auto b = encoder->forward(single.input_ids, single.attention_mask).last_hidden_state()[0];
    const int64_t n = single.lengths[0];
    EXPECT_LT((a.slice(0, 0, n) - b).abs().max().item<double>(), 1e-5);
  }
  torch::manual_seed(0);
  auto head = torch::nn::Linear(32, 2);
  std::vector<torch::Tensor> params = encoder->parameters();
  for (auto& p : head->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, 1e-3);
  const auto labels = torch::tensor({1, 0, 1}, torch::kInt64);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    auto out = encoder->forward(batch.input_ids, batch.attention_mask);
    auto loss = torch::nn::functional::cross_entropy(head(out.last_hidden_state().select(1, 0)), labels);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, first * 0.5);
}

TEST(TextEncoder, BadConfigsAndInputsAreErrors) {
  fas::TextEncoderConfig cfg;
  EXPECT_THROW(fas::ResolveTextConfig(cfg), fas::ConfigError);  // no vocab_size, no tokenizer
  cfg.vocab_size = 10;
  cfg.num_attention_heads = 3;
  EXPECT_THROW(fas::TextEncoder{cfg}, fas::ConfigError);
  cfg.num_attention_heads = 4;
  cfg.type = "gpt2";
  EXPECT_THROW(fas::TextEncoder{cfg}, fas::ConfigError);
  cfg.type = "bert";
  fas::TextEncoder encoder(cfg);
  EXPECT_THROW(encoder->forward(torch::tensor({{1, 12}}, torch::kInt64)), fas::DataError);
  EXPECT_THROW(encoder->forward(torch::zeros({1, 200}, torch::kInt64)), fas::DataError);
  fas::testing::TempDir d;
  fas::testing::WriteFile(d / "config.json", R"({"model_type": "whisper"})");
  EXPECT_THROW(fas::ReadHfTextConfig(d / "config.json"), fas::ConfigError);
}

}  // namespace
