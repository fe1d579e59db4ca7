// The real `fas` binary on the semantic pathway: encode (text, Whisper) against the torch references,
// tokenizer training from a manifest, and transcription with the ctc back-end.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "fas/audio/audio.h"
#include "fas/encoders/ctc_model.h"
#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace {

using fas::testing::RunFas;
using fas::testing::TempDir;

std::string Fixture(const std::string& name) { return fas::testing::SourceDir() + "/tests/fixtures/" + name; }

double MaxError(const std::string& produced, const std::string& expected) {
  const fas::SafeTensorsFile a(produced), b(expected);
  double worst = 0;
  for (const auto& t : b.tensors()) {
    if (t.name.rfind("hidden_states.", 0) != 0 && t.name != "last_hidden_state") continue;
    EXPECT_TRUE(a.Contains(t.name)) << t.name;
    if (!a.Contains(t.name)) return 1e9;
    worst = std::max(worst, (a.Get(t.name) - b.Get(t.name)).abs().max().item<double>());
  }
  return worst;
}

TEST(SemanticCli, EncodeTextAndWhisperMatchReferences) {
  TempDir d;
  for (const std::string model : {"bert", "roberta"}) {
    const auto r = RunFas({"encode", "--encoder", Fixture("text/" + model + "/config.json"), "--weights",
                           Fixture("text/" + model + "/model.safetensors"), "--input",
                           Fixture("text/" + model + "/inputs.safetensors"), "--out", d / (model + ".safetensors")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_LT(MaxError(d / (model + ".safetensors"), Fixture("text/" + model + "/expected.safetensors")), 1e-4);
  }
  const auto r = RunFas({"encode", "--encoder", Fixture("whisper/config.json"), "--weights",
                         Fixture("whisper/model.safetensors"), "--input", Fixture("whisper/inputs.safetensors"),
                         "--out", d / "whisper.safetensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(MaxError(d / "whisper.safetensors", Fixture("whisper/expected_window.safetensors")), 1e-4);

  // Audio input to a text encoder is a clean user error.
  const auto bad = RunFas({"encode", "--encoder", Fixture("text/bert/config.json"), "--weights",
                           Fixture("text/bert/model.safetensors"), "--input", Fixture("whisper/inputs.safetensors"),
                           "--out", d / "bad.safetensors"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("input_ids"), std::string::npos) << bad.err;
}

TEST(SemanticCli, TokenizerTrainFromManifest) {
  TempDir d;
  std::string lines;
  const char* texts[] = {"I am so happy today!", "This is terrible news.", "What a wonderful surprise",
                         "Leave me alone right now", "The meeting is at 12"};
  for (int i = 0; i < 40; ++i) {
    lines += R"({"id": "u)" + std::to_string(i) + R"(", "audio": "u.wav", "text": ")" + texts[i % 5] + "\"}\n";
  }
  fas::testing::WriteFile(d / "m.jsonl", lines);
  auto r = RunFas({"tokenizer", "train", "--manifest", d / "m.jsonl", "--vocab-size", "40", "--out", d / "tok",
                   "--model-type", "bpe"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::ifstream(d / "tok.model").good());
  EXPECT_NE(fas::testing::ReadFile(d / "tok.yaml").find("numbers: words"), std::string::npos);
  r = RunFas({"tokenizer", "train", "--manifest", d / "m.jsonl", "--vocab-size", "40", "--out", d / "tok2",
              "--field", "asr_text"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("asr_text"), std::string::npos) << r.err;
}

TEST(SemanticCli, TranscribeWithCtcBackEnd) {
  TempDir d;
  fas::AcousticEncoderConfig enc;
  enc.conv_dim = {32, 32, 32, 32};
  enc.conv_kernel = {10, 4, 4, 4};
  enc.conv_stride = {5, 4, 4, 4};
  enc.hidden_size = 32;
  enc.num_hidden_layers = 1;
  enc.num_attention_heads = 2;
  enc.intermediate_size = 64;
  enc.num_conv_pos_embeddings = 16;
  enc.num_conv_pos_embedding_groups = 4;
  fas::CtcModel model(enc, fas::CtcVocab::FromTexts({"abc def"}));
  // A random head's transcript depends on the machine's BLAS (an all-blank one is empty, and leaves no asr_text);
  // a head that says "a" on every frame makes the decoded text known: repeats collapse to one "a".
  {
    torch::NoGradGuard no_grad;
    const auto& tokens = model->vocab().tokens();
    const auto a = std::find(tokens.begin(), tokens.end(), "a") - tokens.begin();
    ASSERT_LT(a, static_cast<int64_t>(tokens.size()));
    model->lm_head->weight.zero_();
    model->lm_head->bias.fill_(0.0);
    model->lm_head->bias[a].fill_(10.0);
  }
  model->SaveDir(d / "ctc");
  std::vector<float> tone(16000);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = static_cast<float>(0.3 * std::sin(0.05 * i));
  fas::WriteAudio(d / "a.wav", tone, 16000);
  fas::testing::WriteFile(d / "m.jsonl", R"({"id": "a", "audio": "a.wav", "text": "abc def"})" "\n");
  auto r = RunFas({"transcribe", "--manifest", d / "m.jsonl", "--out", d / "out.jsonl", "--backend", "ctc", "--model",
                   d / "ctc", "--beam-width", "3", "--no-cache"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(fas::testing::ReadFile(d / "out.jsonl").find("\"asr_text\":\"a\""), std::string::npos)
      << fas::testing::ReadFile(d / "out.jsonl");
  EXPECT_NE(r.out.find("overall: WER"), std::string::npos) << r.out;
  r = RunFas({"transcribe", "--manifest", d / "m.jsonl", "--out", d / "out2.jsonl", "--backend", "ctc", "--no-cache"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model folder"), std::string::npos) << r.err;
}

}  // namespace
