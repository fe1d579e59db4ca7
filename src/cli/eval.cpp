// `fas eval --run DIR --manifest M [--name NAME]`: evaluates a trained run on any manifest (in-domain or
// zero-shot); writes DIR/eval/NAME/results.json and predictions.jsonl.
#include <filesystem>
#include <iostream>

#include "command.h"
#include "fas/eval/results.h"
#include "fas/tasks/ser/ser_task.h"

namespace {

fas::cli::RunFn Setup(CLI::App& app) {
  struct Opts {
    std::string run, manifest, name, label_map, device;
    bool skip_bad = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--run", o->run, "run directory")->required();
  app.add_option("--manifest,-m", o->manifest, "manifest to evaluate")->required();
  app.add_option("--name", o->name, "results folder under eval/ (default: the manifest's file name)");
  app.add_option("--label-map", o->label_map,
                 "label map of the manifest's corpus (file or corpus name; default: the run's data.label_map; "
                 "none: no map)");
  app.add_flag("--skip-bad", o->skip_bad, "skip bad manifest lines and unusable audio: listed, counted, not scored");
  fas::cli::AddDeviceOption(app, o->device);
  return [o] {
    fas::UseRunDevice(o->run, o->device);
    const std::string name =
        o->name.empty() ? std::filesystem::path(o->manifest).stem().string() : o->name;
    const fas::EvalMetrics m = fas::EvaluateRun(o->run, o->manifest, name, o->label_map, o->skip_bad);
    if (m.all.n == 0) {
      std::cout << "no labelled utterance to score; wrote " << o->run << "/eval/" << name << "/predictions.jsonl\n";
      return;
    }
    std::cout << "n " << m.all.n << "  acc " << m.all.acc << "  ua " << m.all.ua << "  macro_f1 " << m.all.macro_f1
              << "  weighted_f1 " << m.all.weighted_f1 << "\n";
    if (m.conflict.n > 0) {
      std::cout << "conflict: n " << m.conflict.n << "  acc " << m.conflict.acc << "  ua " << m.conflict.ua;
      if (m.semantic_bias_rate) std::cout << "  semantic_bias_rate " << *m.semantic_bias_rate;
      std::cout << "\n";
    }
    std::cout << fas::FormatConfusion(m.all);
    std::cout << "wrote " << o->run << "/eval/" << name << "/results.json\n";
  };
}

const bool kRegistered = fas::cli::RegisterCommand({"eval", "evaluate a trained run on a manifest", Setup});

}  // namespace
