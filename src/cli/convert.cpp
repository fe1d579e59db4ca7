// `fas convert emotion2vec CHECKPOINT CONFIG_YAML --out DIR`: a published checkpoint in its own format into the
// config.json + model.safetensors that model configs point at (model.acoustic.encoder.hf_config / weights). Once per
// downloaded model; no Python needed.
#include <spdlog/spdlog.h>

#include <memory>

#include "command.h"
#include "fas/encoders/emotion2vec.h"

namespace {

struct Request {
  std::string checkpoint, config, out;
};

fas::cli::RunFn Setup(CLI::App& app) {
  app.require_subcommand(1);
  auto r = std::make_shared<Request>();
  CLI::App* e2v = app.add_subcommand(
      "emotion2vec", "emotion2vec base / plus: FunASR's model.pt (or emotion2vec_base.pt) and config.yaml");
  e2v->add_option("checkpoint", r->checkpoint, "model.pt as published (torch.save's zip format)")
      ->required()
      ->check(CLI::ExistingFile);
  e2v->add_option("config", r->config, "FunASR's config.yaml shipped beside it (model_conf)")
      ->required()
      ->check(CLI::ExistingFile);
  e2v->add_option("--out,-o", r->out, "folder for config.json and model.safetensors")->required();
  return fas::cli::DispatchNested(app, {{e2v, [r] {
                                           const auto report =
                                               fas::ConvertEmotion2Vec(r->checkpoint, r->config, r->out);
                                           spdlog::info(
                                               "emotion2vec: {} tensors written to {}/model.safetensors ({} "
                                               "skipped: decoder, EMA teacher or classifier)",
                                               report.loaded.size(), r->out, report.skipped.size());
                                         }}});
}

const bool kRegistered = fas::cli::RegisterCommand(
    {"convert", "convert a published checkpoint (emotion2vec) into config.json + model.safetensors", Setup});

}  // namespace
