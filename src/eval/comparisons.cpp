#include "fas/eval/comparisons.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fas/core/error.h"
#include "fas/eval/metrics.h"
#include "fas/eval/paper.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

using PredictionsById = std::map<std::string, Prediction>;

std::string PredictionsPath(const RunResult& r) {
  return (fs::path(r.path).parent_path() / "predictions.jsonl").string();
}

// A run's labelled predictions by utterance id.
PredictionsById ReadPredictions(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read " + path);
  PredictionsById out;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    const std::string where = path + ":" + std::to_string(number);
    if (j.is_discarded() || !j.is_object()) throw DataError(where + ": not a JSON object");
    Prediction p;
    for (const auto& [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"id", &p.id}, {"label", &p.label}, {"pred", &p.pred}}) {
      const auto it = j.find(key);
      if (it == j.end() || !it->is_string()) throw DataError(where + ": '" + key + "' is missing or not a string");
      *field = it->get<std::string>();
    }
    if (const auto it = j.find("text_label"); it != j.end() && it->is_string()) p.text_label = it->get<std::string>();
    if (const auto it = j.find("conflict"); it != j.end() && it->is_boolean()) p.conflict = it->get<bool>();
    if (p.label.empty()) continue;
    out[p.id] = std::move(p);
  }
  return out;
}

// Reads each predictions.jsonl once, however many comparisons use it.
class PredictionCache {
 public:
  const PredictionsById& Get(const std::string& path) {
    auto it = cache_.find(path);
    if (it == cache_.end()) it = cache_.emplace(path, ReadPredictions(path)).first;
    return it->second;
  }

 private:
  std::map<std::string, PredictionsById> cache_;
};

// The runs of one model on one set, by seed, that have their predictions.
std::map<uint64_t, const RunResult*> RunsBySeed(const std::vector<const RunResult*>& runs, const std::string& model,
                                                const std::string& dataset) {
  std::map<uint64_t, const RunResult*> out;
  std::error_code ec;
  for (const auto* r : runs) {
    if (r->model == model && r->dataset == dataset && fs::exists(PredictionsPath(*r), ec)) out[r->seed] = r;
  }
  return out;
}

double Rate(int64_t num, int64_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }

// One comparison; nullopt when the two models share no seed or no utterance on the set.
// Two models' runs on one set, paired: by seed, then by utterance.
struct PairedRuns {
  std::vector<uint64_t> seeds;
  std::vector<std::pair<const PredictionsById*, const PredictionsById*>> preds;  // a seed: A's, B's
  std::vector<std::pair<std::string, std::string>> files;                        // a seed: their paths
  std::vector<std::string> ids;  // the utterances every paired run scored
  std::vector<int> truth;        // an utterance: its class index among `num_classes`
  int num_classes = 0;
};

// Throws DataError when a paired run labels an utterance otherwise than the first run does.
void CheckSameLabel(const PairedRuns& p, const std::string& id, const std::string& label) {
  for (size_t s = 0; s < p.preds.size(); ++s) {
    for (const auto& [which, file] : std::initializer_list<std::pair<const PredictionsById*, std::string>>{
             {p.preds[s].first, p.files[s].first}, {p.preds[s].second, p.files[s].second}}) {
      if (which->at(id).label != label) {
        throw DataError("utterance '" + id + "' is labelled '" + which->at(id).label + "' in " + file + " but '" +
                        label + "' in " + p.files.front().first + ": compare runs evaluated on the same manifest");
      }
    }
  }
}

// nullopt when the two models share no seed or no utterance on the set.
std::optional<PairedRuns> PairRuns(const std::vector<const RunResult*>& runs, const ModelPair& pair,
                                   const std::string& dataset, PredictionCache& cache) {
  const auto a_runs = RunsBySeed(runs, pair.a, dataset), b_runs = RunsBySeed(runs, pair.b, dataset);
  PairedRuns p;
  for (const auto& [seed, a] : a_runs) {
    const auto b = b_runs.find(seed);
    if (b == b_runs.end()) continue;
    p.seeds.push_back(seed);
    p.files.emplace_back(PredictionsPath(*a), PredictionsPath(*b->second));
    p.preds.emplace_back(&cache.Get(p.files.back().first), &cache.Get(p.files.back().second));
  }
  if (p.seeds.empty()) return std::nullopt;
  // Only the utterances every paired run scored, so that each seed's difference and each resample cover the same.
  for (const auto& [id, first] : *p.preds.front().first) {
    bool everywhere = true;
    for (const auto& [a, b] : p.preds) everywhere = everywhere && a->count(id) && b->count(id);
    if (everywhere) p.ids.push_back(id);
  }
  if (p.ids.empty()) return std::nullopt;
  std::map<std::string, int> classes;
  for (const auto& id : p.ids) {
    const std::string& label = p.preds.front().first->at(id).label;
    CheckSameLabel(p, id, label);
    p.truth.push_back(classes.emplace(label, static_cast<int>(classes.size())).first->second);
  }
  p.num_classes = static_cast<int>(classes.size());
  return p;
}

Comparison Compare(const PairedRuns& paired, const ModelPair& pair, const std::string& dataset,
                   const ComparisonOptions& options) {
  Comparison c;
  c.dataset = dataset;
  c.a = pair.a;
  c.b = pair.b;
  c.seeds = paired.seeds;
  c.utterances = static_cast<int64_t>(paired.ids.size());
  PairedSample sample;
  sample.truth = paired.truth;
  sample.num_classes = paired.num_classes;
  std::vector<uint64_t> all(paired.ids.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  for (const auto& [a, b] : paired.preds) {
    auto &a_right = sample.a_right.emplace_back(), &b_right = sample.b_right.emplace_back();
    int64_t a_only = 0, b_only = 0, conflicts = 0, a_words = 0, b_words = 0;
    for (const auto& id : paired.ids) {
      const Prediction &pa = a->at(id), &pb = b->at(id);
      a_right.push_back(pa.pred == pa.label);
      b_right.push_back(pb.pred == pb.label);
      a_only += a_right.back() && !b_right.back();
      b_only += b_right.back() && !a_right.back();
      if (pa.IsConflict().value_or(false) && !pa.text_label.empty()) {
        ++conflicts;
        a_words += pa.pred == pa.text_label;
        b_words += pb.pred == pa.text_label;
      }
    }
    c.a_only += a_only;
    c.b_only += b_only;
    c.p_seed.push_back(McNemarExactP(a_only, b_only));
    c.delta_acc.push_back(Rate(a_only - b_only, c.utterances));
    c.delta_ua.push_back(UnweightedAccuracy(sample.truth, sample.num_classes, a_right, all) -
                         UnweightedAccuracy(sample.truth, sample.num_classes, b_right, all));
    if (conflicts > 0) c.delta_bias.push_back(Rate(a_words, conflicts) - Rate(b_words, conflicts));
  }
  c.p = McNemarExactP(c.a_only, c.b_only);
  c.ci = BootstrapDifference(sample, options.resamples, options.bootstrap_seed, options.level);
  return c;
}

}  // namespace

std::vector<Comparison> CompareModels(const std::vector<const RunResult*>& runs, const std::vector<ModelPair>& pairs,
                                      const ComparisonOptions& options) {
  std::set<std::string> names;
  for (const auto* r : runs) names.insert(r->dataset);
  std::vector<std::string> datasets(names.begin(), names.end());
  SortDatasets(datasets);
  PredictionCache cache;
  std::vector<Comparison> out;
  for (const auto& d : datasets) {
    const size_t first = out.size();
    for (const auto& pair : pairs) {
      if (const auto paired = PairRuns(runs, pair, d, cache)) out.push_back(Compare(*paired, pair, d, options));
    }
    // Holm over the set's comparisons: each set is its own table of tests.
    std::vector<double> p;
    for (size_t i = first; i < out.size(); ++i) p.push_back(out[i].p);
    const auto adjusted = HolmAdjust(p);
    for (size_t i = first; i < out.size(); ++i) {
      out[i].p_holm = adjusted[i - first];
      out[i].significant = out[i].p_holm < options.alpha;
    }
  }
  return out;
}

std::vector<ModelPair> DefaultComparisons(const std::vector<std::string>& models) {
  if (models.size() < 2) return {};
  const auto fas = std::find(models.begin(), models.end(), "fas");
  const std::string reference = fas != models.end() ? *fas : models.back();
  std::vector<ModelPair> out;
  for (const auto& m : models) {
    if (m != reference) out.push_back({reference, m});
  }
  return out;
}

}  // namespace fas
