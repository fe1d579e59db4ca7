// The encoder registry models/ builds encoders through: the built-in families, their names, and the one error an
// unknown type gives.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "encoder_factory.h"
#include "fas/core/error.h"
#include "fas/encoders/emotion2vec.h"

namespace {

using fas::models::EncoderRegistry;
using fas::models::Pathway;

TEST(EncoderRegistry, ListsEachPathwaysRegisteredNames) {
  const auto& registry = EncoderRegistry::Builtin();
  EXPECT_EQ(registry.Names(Pathway::kAcoustic),
            (std::vector<std::string>{"emotion2vec", "hubert", "mingtok_audio", "wav2vec2", "wavlm"}));
  EXPECT_EQ(registry.Names(Pathway::kSemantic), (std::vector<std::string>{"text", "whisper"}));
  EXPECT_EQ(registry.Find(Pathway::kSemantic, "whisper", "type").config,
            "WhisperEncoderConfig (model.semantic.whisper)");
  EXPECT_EQ(registry.Find(Pathway::kAcoustic, "wavlm", "type").config,
            "AcousticEncoderConfig (model.acoustic.encoder)");
}

TEST(EncoderRegistry, AnUnknownTypeIsOneConfigErrorListingTheRegisteredNames) {
  fas::SemanticPathwayConfig semantic;
  semantic.type = "bert";
  fas::AcousticPathwayConfig acoustic;
  acoustic.encoder.type = "conformer";
  std::vector<std::string> messages;
  for (const auto& make : std::vector<std::function<void()>>{[&] { fas::models::MakeSemanticEncoder(semantic, 100); },
                                                             [&] { fas::models::MakeAcousticEncoder(acoustic); }}) {
    try {
      make();
      ADD_FAILURE() << "built an unknown type";
    } catch (const fas::ConfigError& e) {
      messages.push_back(e.what());
    }
  }
  EXPECT_EQ(messages,
            (std::vector<std::string>{
                "model.semantic.type: unknown semantic encoder 'bert' (registered: text, whisper)",
                "model.acoustic.encoder.type: unknown acoustic encoder 'conformer' (registered: emotion2vec, hubert, "
                "mingtok_audio, wav2vec2, wavlm)"}));
  // A name of the other pathway is unknown here too.
  EXPECT_THROW(EncoderRegistry::Builtin().Find(Pathway::kAcoustic, "whisper", "type"), fas::ConfigError);
}

TEST(EncoderRegistry, EachRegisteredFamilyConstructs) {
  for (const std::string& type : EncoderRegistry::Builtin().Names(Pathway::kAcoustic)) {
    fas::AcousticPathwayConfig acoustic;
    acoustic.encoder.type = type;
    acoustic.encoder.num_hidden_layers = 1;
    auto encoder = fas::models::MakeAcousticEncoder(acoustic);
    if (type == "mingtok_audio") {
      EXPECT_NE(dynamic_cast<fas::MingTokAudioEncoderImpl*>(encoder.get()), nullptr);
      continue;
    }
    if (type == "emotion2vec") {  // no hf_config: emotion2vec_base's architecture, randomly initialised
      EXPECT_NE(dynamic_cast<fas::Emotion2VecEncoderImpl*>(encoder.get()), nullptr);
      continue;
    }
    auto* built = dynamic_cast<fas::AcousticEncoderImpl*>(encoder.get());
    ASSERT_NE(built, nullptr) << type;
    EXPECT_EQ(built->config().type, type);
  }
  fas::SemanticPathwayConfig text;
  text.type = "text";
  auto t = fas::models::MakeSemanticEncoder(text, 120);
  auto* built_text = dynamic_cast<fas::TextEncoderImpl*>(t.get());
  ASSERT_NE(built_text, nullptr);
  EXPECT_EQ(built_text->config().vocab_size, 120);  // no tokenizer: the vocabulary size given
  fas::SemanticPathwayConfig whisper;
  whisper.type = "whisper";
  auto w = fas::models::MakeSemanticEncoder(whisper, 0);
  EXPECT_NE(dynamic_cast<fas::WhisperEncoderImpl*>(w.get()), nullptr);
}

TEST(EncoderRegistry, ANewFamilyIsOneRegistrationAndANameOnlyOnce) {
  EncoderRegistry registry;
  int built = 0;
  registry.Register({{"tiny"},
                     Pathway::kSemantic,
                     "WhisperEncoderConfig (model.semantic.whisper)",
                     [&](const fas::models::EncoderRequest& request) -> std::shared_ptr<fas::EncoderModule> {
                       ++built;
                       return fas::CreateWhisperEncoder(request.semantic->whisper).ptr();
                     }});
  fas::SemanticPathwayConfig config;
  EXPECT_NE(registry.Find(Pathway::kSemantic, "tiny", "type").make({nullptr, &config, 0}), nullptr);
  EXPECT_EQ(built, 1);
  EXPECT_THROW(registry.Register({{"tiny"}, Pathway::kSemantic, "", nullptr}), fas::Error);
  // The same name on the other pathway is another family.
  EXPECT_NO_THROW(registry.Register({{"tiny"}, Pathway::kAcoustic, "", nullptr}));
  EXPECT_EQ(registry.Names(Pathway::kSemantic), (std::vector<std::string>{"tiny"}));
}

}  // namespace
