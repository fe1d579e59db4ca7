// The CTC recogniser: HuggingFace ForCTC names, model folder round trip, the "ctc" transcription back-end, and
// training that lowers the word error rate on a toy task (letters as tones).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "fas/asr/transcriber.h"
#include "fas/asr/wer.h"
#include "fas/audio/features.h"
#include "fas/core/error.h"
#include "fas/encoders/ctc_model.h"
#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace {

fas::AcousticEncoderConfig TinyEncoder() {
  fas::AcousticEncoderConfig c;
  c.conv_dim = {48, 48, 48, 48};
  c.conv_kernel = {10, 4, 4, 4};
  c.conv_stride = {5, 4, 4, 4};  // 320 samples = 20 ms a frame, as wav2vec2's
  c.hidden_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 96;
  c.num_conv_pos_embeddings = 16;
  c.num_conv_pos_embedding_groups = 4;
  c.hidden_dropout = c.attention_dropout = c.activation_dropout = 0.0;
  c.mask_time_prob = 0.0;
  // LayerNorm after every conv: with the base model's GroupNorm on the first conv only, the front end's
  // gradients from scratch are orders of magnitude above the rest, and global-norm clipping then stalls training.
  c.feat_extract_norm = "layer";
  return c;
}

// Each letter a 70 ms tone of its own pitch; words separated by 60 ms of quiet. A little noise throughout: on
// digital silence the first conv layer's per-channel GroupNorm sees near-constant channels and its gradients
// explode (the same holds for HuggingFace's wav2vec2 trained from scratch).
std::vector<float> Speak(const std::string& text) {
  const int sr = 16000;
  std::vector<float> out(800, 0.0f);
  for (char ch : text) {
    if (ch == ' ') {
      out.insert(out.end(), 960, 0.0f);
      continue;
    }
    const double f = ch == 'a' ? 300.0 : ch == 'b' ? 900.0 : 2200.0;
    for (int i = 0; i < 1600; ++i) out.push_back(static_cast<float>(0.5 * std::sin(2 * M_PI * f * i / sr)));
    out.insert(out.end(), 160, 0.0f);
  }
  out.insert(out.end(), 800, 0.0f);
  const auto noise = torch::randn({static_cast<int64_t>(out.size())}, torch::TensorOptions().dtype(torch::kFloat32)) * 0.01;
  const auto n = noise.accessor<float, 1>();
  for (size_t i = 0; i < out.size(); ++i) out[i] += n[i];
  return out;
}

fas::CtcBatch Batch(const std::vector<std::string>& texts) {
  std::vector<std::vector<float>> waves;
  int64_t longest = 0;
  for (const auto& t : texts) {
    waves.push_back(Speak(t));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(waves.back().size()));
  }
  fas::CtcBatch b;
  b.waveform = torch::zeros({static_cast<int64_t>(texts.size()), longest});
  b.lengths = torch::empty({static_cast<int64_t>(texts.size())}, torch::kInt64);
  for (size_t i = 0; i < texts.size(); ++i) {
    b.waveform[i].slice(0, 0, waves[i].size()) = torch::tensor(waves[i]);
    b.lengths[i] = static_cast<int64_t>(waves[i].size());
  }
  b.texts = texts;
  return b;
}

double Wer(fas::CtcModel& model, const fas::CtcBatch& batch, int beam = 1) {
  torch::NoGradGuard no_grad;
  model->eval();
  const auto hyps = model->Transcribe(batch.waveform, batch.lengths, beam);
  fas::WerCounts total;
  for (size_t i = 0; i < hyps.size(); ++i) total += fas::ComputeWer(batch.texts[i], hyps[i]);
  return total.Wer();
}

TEST(CtcModel, ParameterNamesAreHuggingFaceForCtc) {
  fas::CtcModel model(TinyEncoder(), fas::CtcVocab::FromTexts({"abc"}));
  bool head = false, encoder = false;
  for (const auto& p : model->named_parameters()) {
    head |= p.key() == "lm_head.weight";
    encoder |= p.key().rfind("wav2vec2.encoder.layers.0.", 0) == 0;
  }
  EXPECT_TRUE(head);
  EXPECT_TRUE(encoder);
}

TEST(CtcModel, FolderRoundTripAndTranscriberBackEnd) {
  torch::manual_seed(1);
  fas::testing::TempDir d;
  fas::CtcModel model(TinyEncoder(), fas::CtcVocab::FromTexts({"abc"}), 0.0);
  model->eval();
  model->SaveDir(d / "ctc");
  auto loaded = fas::LoadCtcModel(d / "ctc");
  loaded->eval();
  const auto batch = Batch({"ab c", "ba"});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(model->forward(batch.waveform, batch.lengths).logits.equal(
      loaded->forward(batch.waveform, batch.lengths).logits));
  EXPECT_EQ(loaded->vocab().tokens(), model->vocab().tokens());

  fas::RegisterCtcTranscriber();
  fas::TranscriberConfig cfg;
  cfg.backend = "ctc";
  EXPECT_THROW(fas::CreateTranscriber(cfg), fas::ConfigError);  // no model folder
  cfg.ctc.model = d / "ctc";
  auto t = fas::CreateTranscriber(cfg);
  const auto wave = Speak("ab c");
  EXPECT_EQ(t->Transcribe(wave), model->Transcribe(torch::tensor(wave).unsqueeze(0))[0]);
  EXPECT_NE(t->Fingerprint().find("ctc:"), std::string::npos);

  // A checkpoint whose head does not fit the vocabulary is refused, naming the tensor.
  fas::CtcModel wider(TinyEncoder(), fas::CtcVocab::FromTexts({"abcd"}));
  try {
    wider->LoadWeights(d / "ctc/model.safetensors");
    FAIL() << "a wrongly shaped lm_head must fail";
  } catch (const fas::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("lm_head."), std::string::npos) << e.what();
  }
  fas::testing::WriteFile(d / "ctc/vocab.json", R"({"<pad>": 0, "|": 1})");
  EXPECT_THROW(fas::LoadCtcModel(d / "ctc"), fas::ModelError);  // vocab_size disagrees
}

// The log-mel front end (FAS extension): no parameters of its own, frame counts that match what it computes,
// padding masked, and a model folder that reloads to the same model.
TEST(CtcModel, FbankFrontEndFramesAndFolderRoundTrip) {
  torch::manual_seed(3);
  fas::testing::TempDir d;
  fas::AcousticEncoderConfig enc = TinyEncoder();
  enc.feature_extractor = "fbank";
  enc.fbank_bins = 24;
  enc.fbank_stack = 2;
  EXPECT_EQ(enc.FrameStride(), 320);
  EXPECT_EQ(enc.FeatureDim(), 48);
  fas::CtcModel model(enc, fas::CtcVocab::FromTextWords({"ab ba c"}), 0.0);
  model->eval();
  for (const auto& p : model->named_parameters()) {
    EXPECT_EQ(p.key().find("feature_extractor"), std::string::npos) << p.key();
  }
  const auto batch = Batch({"ab c", "ba"});
  torch::NoGradGuard no_grad;
  const auto out = model->forward(batch.waveform, batch.lengths);
  // The longest utterance fills the padded frames: 1 + samples / 160 STFT frames, in whole stacks of 2.
  const int64_t longest = batch.lengths.max().item<int64_t>();
  EXPECT_EQ(out.logits.size(1), (1 + longest / 160) / 2);
  EXPECT_EQ(out.frame_lengths.max().item<int64_t>(), out.logits.size(1));
  // A shorter utterance in the batch gets the frames it would get alone.
  const int64_t shorter = batch.lengths.min().item<int64_t>();
  const int64_t row = batch.lengths[0].item<int64_t>() == shorter ? 0 : 1;
  const auto alone = model->forward(batch.waveform[row].slice(0, 0, shorter).unsqueeze(0));
  EXPECT_EQ(alone.logits.size(1), out.frame_lengths[row].item<int64_t>());
  EXPECT_LT(out.frame_lengths[row].item<int64_t>(), out.logits.size(1));

  model->SaveDir(d / "ctc");
  const std::string hf = fas::testing::ReadFile(d / "ctc/config.json");
  EXPECT_NE(hf.find("\"fas_feature_extractor\": \"fbank\""), std::string::npos) << hf;
  auto loaded = fas::LoadCtcModel(d / "ctc");
  loaded->eval();
  EXPECT_TRUE(loaded->vocab().word_units());
  EXPECT_TRUE(model->forward(batch.waveform, batch.lengths)
                  .logits.equal(loaded->forward(batch.waveform, batch.lengths).logits));

  enc.feature_extractor = "mfcc";
  EXPECT_THROW(enc.Validate(), fas::ConfigError);
}

TEST(CtcModel, WaveformNormalisationTravelsWithTheFolderAndRunDirsResolve) {
  torch::manual_seed(2);
  fas::testing::TempDir d;
  fas::CtcModel model(TinyEncoder(), fas::CtcVocab::FromTexts({"abc"}), 0.0);
  model->eval();
  EXPECT_THROW(model->set_audio_normalize("loud"), fas::ConfigError);
  model->set_audio_normalize("mean_var");
  // A `fas train` run directory (task: asr): its checkpoint folders are model folders.
  const std::string run = d / "run";
  model->SaveDir(run + "/checkpoints/best");
  fas::testing::WriteFile(run + "/config.yaml", "task: asr\n");
  EXPECT_EQ(fas::ResolveCtcModelDir(run), run + "/checkpoints/best");
  const std::string pre = fas::testing::ReadFile(run + "/checkpoints/best/preprocessor_config.json");
  EXPECT_NE(pre.find("\"do_normalize\": true"), std::string::npos) << pre;
  auto loaded = fas::LoadCtcModel(run);
  EXPECT_EQ(loaded->audio_normalize(), "mean_var");

  // The transcriber normalises the waveform as training did: a quieter copy of the same audio gives the same
  // logits, hence the same transcript, as the model run on the normalised waveform.
  fas::RegisterCtcTranscriber();
  fas::TranscriberConfig cfg;
  cfg.backend = "ctc";
  cfg.ctc.model = run;
  auto t = fas::CreateTranscriber(cfg);
  std::vector<float> wave = Speak("ab c");
  std::vector<float> normalised = wave;
  fas::Normalize(normalised, fas::Normalization::kMeanVar);
  for (float& x : wave) x *= 0.25f;
  torch::NoGradGuard no_grad;
  EXPECT_EQ(t->Transcribe(wave), model->Transcribe(torch::tensor(normalised).unsqueeze(0))[0]);

  // A folder without preprocessor_config.json (an older or hand-made one) is read as no normalisation.
  std::filesystem::remove(run + "/checkpoints/best/preprocessor_config.json");
  EXPECT_EQ(fas::LoadCtcModel(run)->audio_normalize(), "none");
  EXPECT_THROW(fas::ResolveCtcModelDir(d / "nothing"), fas::IoError);
  std::filesystem::remove_all(run + "/checkpoints");
  EXPECT_THROW(fas::ResolveCtcModelDir(run), fas::IoError);  // a run dir without a checkpoint
}

TEST(CtcModel, TrainingLowersWordErrorRate) {
  torch::manual_seed(0);
  // Random letter strings; dev strings are new combinations.
  std::vector<std::string> train, dev;
  std::mt19937 rng(5);
  for (int i = 0; i < 20; ++i) {
    std::string s;
    const int n = 2 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) {
      if (k > 0 && rng() % 3 == 0) s += ' ';
      s += "abc"[rng() % 3];
    }
    (i < 16 ? train : dev).push_back(s);
  }
  fas::CtcModelConfig cfg;
  cfg.encoder = TinyEncoder();
  cfg.final_dropout = 0.0;
  auto model = fas::CreateCtcModel(cfg, train);
  const auto train_batch = Batch(train);
  const auto dev_batch = Batch(dev);
  const double before = Wer(model, dev_batch);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  double first = 0, last = 0;
  for (int step = 0; step < 100; ++step) {
    model->train();
    auto loss = model->Loss(train_batch);
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 5.0);
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  const double after = Wer(model, dev_batch);
  const double after_beam = Wer(model, dev_batch, 4);
  std::printf("toy CTC: loss %.3f -> %.3f, dev WER %.3f -> %.3f (greedy), %.3f (beam 4)\n", first, last, before,
              after, after_beam);
  EXPECT_LT(last, first * 0.3);
  EXPECT_LT(after, before);
  EXPECT_LT(after, 0.5);
}

}  // namespace
