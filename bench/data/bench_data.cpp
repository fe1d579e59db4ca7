// Data loading speed: decode, decode + resample to 16 kHz, and the whole loader (decode, resample, pad, batch),
// on WAV files at 16 kHz and 44.1 kHz that it writes itself. Prints one tab-separated line a measurement:
//   fas <TAB> stage <TAB> input rate <TAB> threads <TAB> audio s per CPU s <TAB> audio s per wall s
// "Per core" is audio seconds per second of CPU time the process used (all its threads), which stays meaningful
// on a busy shared machine where wall time is not. Files are read once before timing (CPU cost, not disk speed);
// each figure is the best of 3 runs.
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "fas/audio/audio.h"
#include "fas/core/runtime.h"
#include "fas/data/loader.h"
#include "fas/data/manifest.h"

namespace {

struct Clock {
  double wall, cpu;
};
Clock Now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return {std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(),
          static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec)};
}

// Best of 3 runs of `f`, by CPU time.
template <class F>
Clock Best(F&& f) {
  Clock best{1e30, 1e30};
  for (int r = 0; r < 3; ++r) {
    const Clock t0 = Now();
    f();
    const Clock t1 = Now();
    if (t1.cpu - t0.cpu < best.cpu) best = {t1.wall - t0.wall, t1.cpu - t0.cpu};
  }
  return best;
}

// Utterances of 2-10 s (speech-like lengths): a few tones under noise, PCM16 mono.
std::string MakeCorpus(const std::string& dir, int rate, double total_seconds) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(rate);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<fas::Utterance> utts;
  double made = 0;
  for (int i = 0; made < total_seconds; ++i) {
    const double seconds = 2.0 + 8.0 * static_cast<double>(rng() % 1000) / 1000.0;
    std::vector<float> x(static_cast<size_t>(seconds * rate));
    for (size_t k = 0; k < x.size(); ++k) {
      const double t = static_cast<double>(k) / rate;
      x[k] = static_cast<float>(0.2 * std::sin(2 * M_PI * 220 * t) + 0.1 * std::sin(2 * M_PI * 1300 * t)) + noise(rng);
    }
    fas::Utterance u;
    u.id = "r" + std::to_string(rate) + "_" + std::to_string(i);
    u.audio = u.id + ".wav";
    u.duration = static_cast<double>(x.size()) / rate;
    fas::WriteAudio(dir + "/" + u.audio, x, rate);
    utts.push_back(u);
    made += u.duration;
  }
  const std::string manifest = dir + "/manifest.jsonl";
  fas::WriteManifest(manifest, utts);
  return manifest;
}

void Report(const char* stage, int rate, int threads, double audio_seconds, Clock t) {
  std::printf("fas\t%s\t%d\t%d\t%.0f\t%.0f\n", stage, rate, threads, audio_seconds / t.cpu, audio_seconds / t.wall);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  fas::InitRuntime({.threads = 1});
  const std::string out = argc > 1 ? argv[1] : "/tmp/fas_bench_data";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 1200.0;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  for (int rate : {16000, 44100}) {
    const std::string dir = out + "/wav" + std::to_string(rate);
    std::string manifest = dir + "/manifest.jsonl";
    if (!std::filesystem::exists(manifest)) manifest = MakeCorpus(dir, rate, seconds);
    const fas::Manifest m = fas::ReadManifest(manifest);
    double audio = 0;
    for (const auto& u : m.utterances) audio += fas::ReadAudio(u.audio_path, {.target_rate = 0}).size() / double(rate);

    Report("decode", rate, 1, audio, Best([&] {
             for (const auto& u : m.utterances) fas::ReadAudio(u.audio_path, {.target_rate = 0});
           }));
    Report("decode+resample16k", rate, 1, audio, Best([&] {
             for (const auto& u : m.utterances) fas::ReadAudio(u.audio_path, {.target_rate = 16000});
           }));

    auto data = std::make_shared<fas::AudioDataset>(fas::AudioDataset(m, fas::DatasetOptions{}));
    for (int workers : {1, threads}) {
      fas::LoaderConfig cfg;
      cfg.batch_size = 16;
      cfg.num_workers = workers;
      cfg.prefetch = 2 * workers;
      fas::DataLoader loader(data, cfg, /*train=*/true, 1);
      int64_t epoch = 0;
      int64_t batches = 0;
      const Clock t = Best([&] {
        loader.StartEpoch(epoch++);
        batches = 0;
        while (auto b = loader.Next()) ++batches;
      });
      Report("loader(decode+resample+batch)", rate, workers, audio, t);
      std::fprintf(stderr, "loader %d Hz, %d worker(s): %lld batches a epoch, padding ratio %.3f\n", rate, workers,
                   static_cast<long long>(batches), loader.plan().padding_ratio);
    }
  }
  return 0;
}
