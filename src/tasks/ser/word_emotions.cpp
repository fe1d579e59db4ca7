// The words' emotion of a dataset's utterances, which counterfactual pairing needs to lend an utterance's words only
// to an utterance of another emotion. A synthetic or acted corpus states it (`text_label`); a real corpus
// (IEMOCAP-style manifests) does not, and a words-only classifier's prediction from the transcript stands in.
#include <spdlog/spdlog.h>

#include <unordered_map>

#include "fas/core/error.h"
#include "fas/tasks/ser/ser_task.h"
#include "ser_predict.h"

namespace fas {

std::vector<int64_t> WordEmotions(const SerDataset& data, const LabelSet& labels, const std::string& text_model,
                                  const LoaderConfig& loader) {
  std::vector<int64_t> words(static_cast<size_t>(data.size()));
  int64_t stated = 0;
  for (int64_t i = 0; i < data.size(); ++i) {
    words[static_cast<size_t>(i)] = data.audio()->text_label(i);
    stated += words[static_cast<size_t>(i)] >= 0 ? 1 : 0;
  }
  if (stated == data.size() || text_model.empty()) return words;

  const ExperimentConfig cfg = LoadRunConfig(text_model);
  const HeadStreams streams = FusionHeadStreams(cfg.model.head);
  if (streams.acoustic || !streams.semantic || cfg.model.semantic.type != "text") {
    throw ConfigError("train.counterfactual.text_model: run '" + text_model + "' (head " + cfg.model.head +
                      ") is not a words-only model; name a run of configs/models/text_emotion.yaml");
  }
  SerModel model = LoadRunModel(cfg, text_model, RunLabels(cfg, text_model));
  // The transcripts are this run's (its data.text_field): the words its semantic pathway will hear.
  std::unordered_map<std::string, std::string> predicted;
  for (const Prediction& p : PredictDataset(model, nullptr, data, loader)) predicted[p.id] = p.pred;
  int64_t from_model = 0;
  for (int64_t i = 0; i < data.size(); ++i) {
    auto& w = words[static_cast<size_t>(i)];
    if (w >= 0) continue;
    const auto p = predicted.find(data.utterance(i).id);
    if (p == predicted.end()) continue;
    w = labels.Index(p->second);
    from_model += w >= 0 ? 1 : 0;
  }
  spdlog::info("words' emotion of {}: {} from text_label, {} predicted by {}", data.manifest_path(), stated,
               from_model, text_model);
  return words;
}

}  // namespace fas
