// `fas transcribe`: fills a manifest's asr_text and reports the word error rate where `text` is known.
#include <cstdio>
#include <filesystem>
#include <map>

#include "command.h"
#include "fas/asr/transcriber.h"
#include "fas/asr/wer.h"
#include "fas/config/binder.h"
#include "fas/core/device.h"
#include "fas/core/runtime.h"
#include "fas/data/manifest.h"
#include "fas/encoders/ctc_model.h"

namespace fs = std::filesystem;

namespace {

void PrintTable(const char* title, const std::map<std::string, fas::WerCounts>& table) {
  std::printf("%-22s %7s %6s %6s %6s %7s %6s\n", title, "WER%", "sub", "del", "ins", "words", "utts");
  for (const auto& [name, c] : table) {
    std::printf("%-22s %7.1f %6lld %6lld %6lld %7lld %6lld\n", name.empty() ? "-" : name.c_str(), 100.0 * c.Wer(),
                static_cast<long long>(c.substitutions), static_cast<long long>(c.deletions),
                static_cast<long long>(c.insertions), static_cast<long long>(c.ref_words),
                static_cast<long long>(c.utterances));
  }
}

fas::cli::RunFn Setup(CLI::App& app) {
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto backend = std::make_shared<std::string>();
  auto files = std::make_shared<std::vector<std::string>>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto no_cache = std::make_shared<bool>(false);
  auto skip_bad = std::make_shared<bool>(false);
  auto ctc = std::make_shared<fas::CtcTranscriberConfig>();
  app.add_option("--manifest,-m", *in, "input manifest (JSON Lines)")->required();
  app.add_option("--out,-o", *out, "output manifest with asr_text filled")->required();
  app.add_option("--backend,-b", *backend, "recogniser back-end (default pocketsphinx)");
  app.add_option("--config,-c", *files, "recogniser settings: YAML with backend, pocketsphinx.*, cache, cache_dir");
  app.add_option("--set", *sets, "override a setting: pocketsphinx.ds=1, cache=false, ...");
  app.add_flag("--no-cache", *no_cache, "decode everything again (and do not store transcripts)");
  app.add_flag("--skip-bad", *skip_bad,
               "leave out bad manifest lines and unreadable audio, listed in OUT's .skipped.jsonl, instead of failing");
  app.add_option("--model", ctc->model, "ctc back-end: model folder (config.json, model.safetensors, vocab.json)");
  app.add_option("--beam-width", ctc->beam_width, "ctc back-end: 1 = greedy, more = prefix beam search")
      ->check(CLI::PositiveNumber);
  auto device = std::make_shared<std::string>();
  fas::cli::AddDeviceOption(app, *device);
  return [in, out, backend, files, sets, no_cache, skip_bad, ctc, device] {
    fas::RegisterCtcTranscriber();
    auto config = files->empty() && sets->empty() ? fas::TranscriberConfig{}
                                                  : fas::LoadConfig<fas::TranscriberConfig>(*files, *sets);
    if (!backend->empty()) config.backend = *backend;
    if (*no_cache) config.cache = false;
    if (!ctc->model.empty()) {
      config.ctc.model = ctc->model;
      if (backend->empty()) config.backend = "ctc";
    }
    if (ctc->beam_width != 1) config.ctc.beam_width = ctc->beam_width;
    // Only the CTC back-end computes with LibTorch; pocketsphinx decodes on the CPU whatever is asked.
    if (config.backend == "ctc") fas::UseDevice(device->empty() ? "auto" : *device, "--device");
    fas::ManifestReadOptions read;
    read.skip_bad = *skip_bad;
    fas::Manifest manifest = fas::ReadManifest(*in, read);
    std::vector<std::string> paths;
    for (const auto& u : manifest.utterances) paths.push_back(u.audio_path);
    fas::TranscribeStats stats;
    std::vector<std::string> failures;
    auto texts = fas::TranscribeFiles(paths, config, fas::IntraOpThreads(), &stats, *skip_bad ? &failures : nullptr);
    if (!failures.empty()) {
      // Unreadable audio leaves the output manifest and joins the bad lines in the skip list.
      std::vector<fas::Utterance> kept;
      std::vector<std::string> kept_texts;
      for (size_t i = 0; i < texts.size(); ++i) {
        auto& u = manifest.utterances[i];
        if (failures[i].empty()) {
          kept.push_back(std::move(u));
          kept_texts.push_back(std::move(texts[i]));
        } else {
          manifest.skipped.push_back(fas::SkippedLine{u.line, u.id, failures[i], manifest.path});
        }
      }
      manifest.utterances = std::move(kept);
      texts = std::move(kept_texts);
    }

    // Audio paths are rewritten relative to the output manifest's folder, so that it works wherever it is written.
    const fs::path out_dir = fs::absolute(*out).parent_path();
    std::map<std::string, fas::WerCounts> by_split, by_speaker;
    fas::WerCounts total;
    for (size_t i = 0; i < texts.size(); ++i) {
      auto& u = manifest.utterances[i];
      u.asr_text = texts[i];
      u.audio = fs::relative(fs::absolute(u.audio_path), out_dir).string();
      if (u.text.empty()) continue;
      const auto c = fas::ComputeWer(u.text, u.asr_text);
      by_split[u.split] += c;
      by_speaker[u.speaker] += c;
      total += c;
    }
    fs::create_directories(out_dir);
    fas::WriteManifest(*out, manifest.utterances);
    if (!manifest.skipped.empty()) {
      const std::string list = fs::path(*out).replace_extension(".skipped.jsonl").string();
      fas::WriteSkipList(list, manifest.skipped);
      std::printf("skipped %zu bad line(s) or unreadable file(s) of %s, listed in %s\n", manifest.skipped.size(),
                  in->c_str(), list.c_str());
    }
    std::printf("transcribed %zu utterances with %s: decoded %lld (%.1f s of audio in %.1f s), %lld from the cache\n",
                texts.size(), config.backend.c_str(), static_cast<long long>(stats.decoded), stats.audio_seconds,
                stats.decode_seconds, static_cast<long long>(stats.cached));
    if (total.utterances > 0) {
      PrintTable("split", by_split);
      PrintTable("speaker", by_speaker);
      std::printf("overall: %s\n", total.Summary().c_str());
    }
  };
}

const bool kRegistered = fas::cli::RegisterCommand(
    {"transcribe", "fill a manifest's asr_text with a recogniser and report the word error rate", Setup});

}  // namespace
