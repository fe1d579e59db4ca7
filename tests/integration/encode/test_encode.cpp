// The real `fas encode` and `fas inspect` on the committed acoustic fixtures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "fas/audio/audio.h"
#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace {

using fas::testing::RunFas;
using fas::testing::SourceDir;
using fas::testing::TempDir;

std::string Fixture(const std::string& variant, const std::string& file) {
  return SourceDir() + "/tests/fixtures/acoustic/" + variant + "/" + file;
}

void ExpectOneLineError(const fas::testing::CommandResult& r, const std::string& part) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
}

TEST(Encode, SafetensorsInputReproducesTheReferenceHiddenStates) {
  TempDir d;
  for (const std::string variant : {"wav2vec2_preln_layer", "wavlm_postln_group"}) {
    auto r = RunFas({"encode", "--threads", "1", "--encoder", Fixture(variant, "config.json"), "--weights",
                     Fixture(variant, "model.safetensors"), "--input", Fixture(variant, "io.safetensors"), "--out",
                     d / "out.safetensors"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    fas::SafeTensorsFile out(d / "out.safetensors"), ref(Fixture(variant, "io.safetensors"));
    const auto frames = ref.Get("frame_lengths");
    EXPECT_TRUE(torch::equal(out.Get("frame_lengths"), frames));
    int states = 0;
    for (; ref.Contains("hidden_states." + std::to_string(states)); ++states) {
      const std::string name = "hidden_states." + std::to_string(states);
      auto got = out.Get(name), want = ref.Get(name);
      for (int64_t b = 0; b < got.size(0); ++b) {
        const int64_t n = frames[b].item<int64_t>();
        EXPECT_LT((got[b].slice(0, 0, n) - want[b].slice(0, 0, n)).abs().max().item<double>(), 1e-4) << name;
      }
    }
    EXPECT_FALSE(out.Contains("hidden_states." + std::to_string(states)));
    EXPECT_TRUE(torch::equal(out.Get("last_hidden_state"), out.Get("hidden_states." + std::to_string(states - 1))));
  }
}

TEST(Encode, AudioFileInputAndInspect) {
  TempDir d;
  std::vector<float> tone(8000);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.3f * std::sin(0.05f * static_cast<float>(i));
  fas::WriteAudio(d / "tone.wav", tone, 8000);  // 1 s at 8 kHz: resampled to 16000 samples
  auto r = RunFas({"encode", "--encoder", Fixture("hubert_preln_group", "config.json"), "--weights",
                   Fixture("hubert_preln_group", "model.safetensors"), "--input", d / "tone.wav", "--out",
                   d / "o.safetensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fas::SafeTensorsFile out(d / "o.safetensors");
  EXPECT_EQ(out.Get("last_hidden_state").sizes(), (std::vector<int64_t>{1, 799, 32}));

  r = RunFas({"inspect", d / "o.safetensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("last_hidden_state  F32   [1, 799, 32]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("metadata encoder: hubert"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("6 tensors"), std::string::npos) << r.out;
}

TEST(Encode, UserErrorsAreOneLine) {
  TempDir d;
  fas::testing::WriteFile(d / "bert.json", R"({"model_type": "bert-ish"})");
  fas::testing::WriteFile(d / "broken.safetensors", "\x08\0\0\0\0\0\0\0{\"a\":1}");
  const std::string cfg = Fixture("wav2vec2_postln_group", "config.json");
  const std::string weights = Fixture("wav2vec2_postln_group", "model.safetensors");
  const std::string io = Fixture("wav2vec2_postln_group", "io.safetensors");
  ExpectOneLineError(RunFas({"encode", "--encoder", d / "bert.json", "--weights", weights, "--input", io, "--out",
                             d / "o.safetensors"}),
                     "'bert-ish' is not one of");
  ExpectOneLineError(RunFas({"encode", "--encoder", cfg, "--input", io, "--out", d / "o.safetensors"}), "no weights");
  ExpectOneLineError(RunFas({"encode", "--encoder", cfg, "--weights", Fixture("wavlm_postln_group", "model.safetensors"),
                             "--input", io, "--out", d / "o.safetensors"}),
                     "gru_rel_pos");
  ExpectOneLineError(RunFas({"encode", "--encoder", cfg, "--weights", d / "broken.safetensors", "--input", io, "--out",
                             d / "o.safetensors"}),
                     "broken.safetensors");
  ExpectOneLineError(RunFas({"encode", "--encoder", cfg, "--weights", weights, "--input", weights, "--out",
                             d / "o.safetensors"}),
                     "no tensor named 'waveform'");
  ExpectOneLineError(RunFas({"inspect", d / "broken.safetensors"}), "broken.safetensors");
}

}  // namespace
