// Festival as a persistent `festival --pipe` child process, one per engine instance (one per thread), driven with
// Scheme on its stdin: starting festival costs ~0.3 s, an utterance ~0.05 s. Prosody: diphone voices take
// `int_lr_params` target F0 mean/std and `Duration_Stretch`; the HTS voice takes hts_engine's `-fm` (half-tone
// shift) and `-r` (speaking rate); measured, `-fm` leaves its F0 where it was, so it follows duration only.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "fas/core/process.h"
#include "tts_engines.h"

namespace fs = std::filesystem;

namespace fas::synth {

namespace {

struct FestivalVoice {
  double f0_mean = 0.0, f0_std = 0.0;  // the voice's own int_lr_params targets; 0 for HTS
  bool hts = false;
};

const std::map<std::string, FestivalVoice>& Voices() {
  static const std::map<std::string, FestivalVoice> voices = {
      {"kal_diphone", {105.0, 14.0, false}},
      {"ked_diphone", {105.0, 15.0, false}},
      {"cmu_us_slt_arctic_hts", {0.0, 0.0, true}},
  };
  return voices;
}

std::string SchemeString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class FestivalEngine : public TtsEngine {
 public:
  bool ControlsF0(const std::string& voice) const override {
    auto it = Voices().find(voice);
    return it == Voices().end() || !it->second.hts;
  }

  FestivalEngine() {
    work_dir_ = fs::temp_directory_path() / ("fas-festival-" + std::to_string(getpid()) + "-" +
                                            std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(work_dir_);
    SpawnOptions options;
    options.stdin_pipe = true;
    options.stdout_to = Output::kPipe;
    options.stderr_to = Output::kNull;
    try {
      festival_ = Process::Spawn({"festival", "--pipe"}, options);
    } catch (const IoError& e) {
      throw IoError(std::string("cannot start festival (install the festival package): ") + e.what());
    }
  }

  ~FestivalEngine() override {
    try {
      festival_.Write("(quit)\n");
    } catch (const IoError&) {
      // festival already exited: nothing to ask it
    }
    festival_.CloseStdin();
    festival_.CloseStdout();
    festival_.Wait();
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }

  Waveform Synthesize(const std::string& text, const std::string& voice, const EngineProsody& p) override {
    auto it = Voices().find(voice);
    if (it == Voices().end()) {
      throw ConfigError("unknown festival voice '" + voice +
                        "' (known: kal_diphone, ked_diphone, cmu_us_slt_arctic_hts)");
    }
    const FestivalVoice& fv = it->second;
    const fs::path wav = work_dir_ / ("utt" + std::to_string(counter_++) + ".wav");
    std::ostringstream cmd;
    cmd.precision(6);
    if (voice != current_voice_) {
      cmd << "(voice_" << voice << ")\n";
      current_voice_ = voice;
    }
    if (fv.hts) {
      cmd << "(set! hts_engine_params (append cmu_us_slt_arctic_hts::hts_engine_params (list (list \"-r\" "
          << 1.0 / p.duration << "))))\n";
    } else {
      cmd << "(Parameter.set 'Duration_Stretch " << p.duration << ")\n"
          << "(set! int_lr_params '((target_f0_mean " << fv.f0_mean * p.f0 << ") (target_f0_std "
          << fv.f0_std * p.f0_spread << ") (model_f0_mean 170) (model_f0_std 34)))\n";
    }
    cmd << "(utt.save.wave (utt.synth (Utterance Text " << SchemeString(text) << ")) " << SchemeString(wav.string())
        << " 'riff)\n"
        << "(print \"FAS_DONE\")\n"
        << "(fflush nil)\n";  // stdout is a pipe: festival would otherwise hold the marker back
    Send(cmd.str());
    WaitForMarker(voice);
    if (!fs::exists(wav)) throw DataError("festival (voice " + voice + ") failed on \"" + text + "\"");
    Waveform out;
    out.sample_rate = ProbeAudio(wav.string()).sample_rate;
    AudioReadOptions keep_rate;
    keep_rate.target_rate = 0;
    out.samples = ReadAudio(wav.string(), keep_rate);
    fs::remove(wav);
    return out;
  }

 private:
  void Send(const std::string& s) {
    try {
      festival_.Write(s);
    } catch (const IoError&) {
      throw IoError("festival stopped accepting commands (did it crash?)");
    }
  }

  void WaitForMarker(const std::string& voice) {
    static const std::string kMarker = "FAS_DONE";
    char buf[4096];
    while (true) {
      const size_t pos = pending_.find(kMarker);
      if (pos != std::string::npos) {
        pending_.erase(0, pos + kMarker.size());
        return;
      }
      const size_t n = festival_.Read(buf, sizeof(buf));
      if (n == 0) throw IoError("festival exited while speaking with voice " + voice);
      pending_.append(buf, n);
    }
  }

  Process festival_;
  fs::path work_dir_;
  std::string current_voice_, pending_;
  uint64_t counter_ = 0;
};

}  // namespace

std::unique_ptr<TtsEngine> CreateFestivalEngine() { return std::make_unique<FestivalEngine>(); }

}  // namespace fas::synth
