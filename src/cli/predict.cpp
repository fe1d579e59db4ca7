// `fas predict --run DIR FILE...`: one JSON line a file (label, probabilities, attention share of each pathway).
#include <iostream>

#include "command.h"
#include "fas/tasks/ser/ser_task.h"

namespace {

fas::cli::RunFn Setup(CLI::App& app) {
  struct Opts {
    std::string run, device;
    std::vector<std::string> files, texts;
    fas::TranscriberConfig asr;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--run", o->run, "run directory")->required();
  app.add_option("files", o->files, "audio files")->required();
  app.add_option("--text", o->texts, "transcript of each file, in order (default: transcribed with --asr-backend)");
  app.add_option("--asr-backend", o->asr.backend, "transcription back-end for files without --text");
  fas::cli::AddDeviceOption(app, o->device);
  return [o] {
    fas::UseRunDevice(o->run, o->device);
    for (const auto& j : fas::PredictFiles(o->run, o->files, o->texts, o->asr)) std::cout << j.dump() << "\n";
  };
}

const bool kRegistered = fas::cli::RegisterCommand({"predict", "predict the emotion of audio files", Setup});

}  // namespace
