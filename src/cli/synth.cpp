// `fas synth`: writes the synthetic conflict corpus (docs/synth.md).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "command.h"
#include "fas/config/binder.h"
#include "fas/core/runtime.h"
#include "fas/data/synth/generator.h"

namespace fs = std::filesystem;

namespace {

void PrintWer(const char* title, const std::map<std::string, fas::WerCounts>& table) {
  std::printf("%-22s %7s %6s %6s %6s %7s\n", title, "WER%", "sub", "del", "ins", "words");
  for (const auto& [name, c] : table) {
    std::printf("%-22s %7.1f %6lld %6lld %6lld %7lld\n", name.c_str(), 100.0 * c.Wer(),
                static_cast<long long>(c.substitutions), static_cast<long long>(c.deletions),
                static_cast<long long>(c.insertions), static_cast<long long>(c.ref_words));
  }
}

fas::cli::RunFn Setup(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto no_asr = std::make_shared<bool>(false);
  app.add_option("--config,-c", *files, "config file(s), e.g. configs/data/synth.yaml")->required();
  app.add_option("--out,-o", *out, "output folder (WAVs, train/dev/test/conflict.jsonl)")->required();
  app.add_option("--set", *sets, "override a key: size=tiny, seed=7, ...");
  app.add_flag("--no-asr", *no_asr, "leave asr_text empty (skip the recogniser)");
  return [files, sets, out, no_asr] {
    auto config = fas::LoadConfig<fas::synth::SynthConfig>(*files, *sets);
    if (*no_asr) config.run_asr = false;
    const std::string config_dir = fs::path(files->back()).parent_path().string();
    const int threads = fas::IntraOpThreads();
    const auto stats = fas::synth::GenerateCorpus(config, *out, config_dir, threads);

    std::printf("wrote %s (size %s, seed %llu) in %.1f s on %d threads: ", out->c_str(), config.size.c_str(),
                static_cast<unsigned long long>(config.seed), stats.wall_seconds, threads);
    for (const auto& [split, n] : stats.utterances) std::printf("%s %d  ", split.c_str(), n);
    std::printf("\naudio: %.1f s (real-time factor of the whole run %.3f)\n", stats.audio_seconds,
                stats.wall_seconds / std::max(stats.audio_seconds, 1e-9));
    if (config.run_asr) {
      std::printf("asr: decoded %.1f s of audio, %lld utterances from the cache\n", stats.asr_decoded_seconds,
                  static_cast<long long>(stats.asr_cached));
      PrintWer("split", stats.wer_by_split);
      PrintWer("speaker", stats.wer_by_speaker);
      PrintWer("engine", stats.wer_by_engine);
    }
    std::printf("%-10s %-9s %5s %9s %10s %8s\n", "split", "label", "n", "F0 (Hz)", "RMS (dBFS)", "dur (s)");
    for (const auto& [split, by_label] : stats.tone) {
      for (const auto& label : fas::synth::Emotions()) {
        auto it = by_label.find(label);
        if (it == by_label.end()) continue;
        const auto& c = it->second;
        std::printf("%-10s %-9s %5d %9.1f %10.1f %8.2f\n", split.c_str(), label.c_str(), c.n,
                    c.n_f0 ? c.f0_sum / c.n_f0 : 0.0, c.dbfs_sum / c.n, c.seconds_sum / c.n);
      }
    }
  };
}

const bool kRegistered = fas::cli::RegisterCommand(
    {"synth", "write the synthetic conflict corpus (TTS with emotional prosody, real ASR transcripts)", Setup});

}  // namespace
