// `fas tokenizer train --manifest M --vocab-size N --out PREFIX`: a sentencepiece model (unigram or BPE) on a
// manifest's transcripts, normalised as the text encoder will see them at run time (the normalisation is stored
// beside the model as PREFIX.yaml and read back by the tokenizer).
#include <cstdio>
#include <memory>

#include "command.h"
#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/data/manifest.h"
#include "fas/text/tokenizer.h"

namespace {

struct TrainRequest {
  std::vector<std::string> manifests;
  std::string field = "text";
  bool keep_case = false, keep_punctuation = false, skip_bad = false;
  std::string numbers = "words";
  fas::TokenizerTrainOptions options;
};

void Train(const TrainRequest& r) {
  {
    auto options = r.options;
    options.normalization.lowercase = !r.keep_case;
    options.normalization.strip_punctuation = !r.keep_punctuation;
    options.normalization.numbers = r.numbers;
    options.threads = fas::IntraOpThreads();
    std::vector<std::string> texts;
    fas::ManifestReadOptions read;
    read.check_audio_exists = false;
    read.skip_bad = r.skip_bad;
    for (const auto& path : r.manifests) {
      const auto manifest = fas::ReadManifest(path, read);
      for (const auto& u : manifest.utterances) {
        const std::string& t = r.field == "asr_text" ? u.asr_text : u.text;
        if (!t.empty()) texts.push_back(t);
      }
    }
    if (texts.empty()) {
      throw fas::DataError("no utterance of the manifest(s) has a non-empty '" + r.field + "' field");
    }
    const std::string model = fas::TrainTokenizer(texts, options);
    fas::Tokenizer tok(fas::TokenizerConfig::ForModel(model));
    std::printf("trained a %s tokenizer on %zu transcripts (%s): %lld pieces -> %s (+ .vocab, .yaml)\n",
                options.model_type.c_str(), texts.size(), r.field.c_str(), static_cast<long long>(tok.vocab_size()),
                model.c_str());
  }
}

fas::cli::RunFn Setup(CLI::App& app) {
  auto r = std::make_shared<TrainRequest>();
  CLI::App* train = app.add_subcommand("train", "train a sentencepiece model on a manifest's transcripts");
  train->add_option("--manifest,-m", r->manifests, "manifest(s) (JSON Lines) to read transcripts from")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--vocab-size", r->options.vocab_size, "pieces in the model")->required()->check(CLI::Range(8, 1 << 20));
  train->add_option("--out,-o", r->options.prefix, "output prefix: writes PREFIX.model, PREFIX.vocab, PREFIX.yaml")
      ->required();
  train->add_option("--model-type", r->options.model_type, "unigram | bpe")
      ->capture_default_str()
      ->check(CLI::IsMember({"unigram", "bpe"}));
  train->add_option("--field", r->field, "transcript field: text (reference) | asr_text (recogniser output)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "asr_text"}));
  train->add_option("--max-length", r->options.max_length, "tokens kept per text at run time, <s> and </s> included")
      ->capture_default_str();
  train->add_flag("--keep-case", r->keep_case, "do not lower-case");
  train->add_flag("--skip-bad", r->skip_bad, "leave out bad manifest lines (counted and logged) instead of failing");
  train->add_flag("--keep-punctuation", r->keep_punctuation, "do not strip punctuation");
  train->add_option("--numbers", r->numbers, "words (42 -> forty two) | keep")
      ->capture_default_str()
      ->check(CLI::IsMember({"words", "keep"}));
  train->add_option("--seed", r->options.seed, "sentencepiece's random seed")->capture_default_str();
  // The options are bound now and read when the command runs, after parsing.
  return fas::cli::DispatchNested(app, {{train, [r] { Train(*r); }}});
}

const bool kRegistered =
    fas::cli::RegisterCommand({"tokenizer", "train a sentencepiece tokenizer on manifest transcripts", Setup});

}  // namespace
