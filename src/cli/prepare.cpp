// `fas prepare CORPUS --root DIR --out FILE.jsonl`: a manifest for a real corpus as its distributor ships it.
#include <iostream>
#include <memory>

#include "command.h"
#include "fas/data/prepare/prepare.h"

namespace {

fas::cli::RunFn Setup(CLI::App& app) {
  auto corpus = std::make_shared<std::string>();
  auto options = std::make_shared<fas::prepare::PrepareOptions>();
  app.add_option("corpus", *corpus, "the corpus")->required()->check(CLI::IsMember(fas::prepare::CorpusNames()));
  app.add_option("--root", options->root, "the folder the download was unpacked into (searched recursively)")
      ->required();
  app.add_option("--out", options->out, "the manifest to write (JSON lines); audio paths are relative to its folder")
      ->required();
  app.add_option("--split", options->split,
                 "official (the distributor's split), one split name for everything (e.g. test), or speaker "
                 "groups test=SPK,SPK;dev=SPK (a trailing * matches a prefix; the rest is train)")
      ->capture_default_str();
  app.add_flag("--keep-unmapped", options->keep_unmapped,
               "keep labels the map drops (calm, boredom, frustrated, ...) under their original name");
  app.add_flag("--merge-excited", options->merge_excited, "iemocap: map excited to happy instead of dropping it");
  app.add_option("--label-map", options->label_map, "a label map to use instead of configs/labels/CORPUS.yaml");
  return [corpus, options] {
    const auto result = fas::prepare::PrepareCorpus(*corpus, *options);
    std::cout << fas::prepare::Summary(result) << "wrote " << options->out << "\n";
  };
}

const bool kRegistered =
    fas::cli::RegisterCommand({"prepare", "a manifest for a known corpus laid out as its distributor ships it", Setup});

}  // namespace
