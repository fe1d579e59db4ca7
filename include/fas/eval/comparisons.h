// Paired comparisons between the suite's models, computed from the runs' predictions (eval/NAME/predictions.jsonl):
// on each evaluation set, A against B over the seeds both were trained with, utterances paired by (id, seed).
//
// Which pairs: the suite's `comparisons:` ([[A, B], ...]), else every model against a reference: `fas` when the
// runs have it, else the last model of the tables' row order (the paper lists its own model last).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fas/eval/paired_stats.h"
#include "fas/eval/run_results.h"

namespace fas {

struct ModelPair {
  std::string a, b;
};

struct ComparisonOptions {
  int resamples = 2000;          // bootstrap resamples of utterances
  uint64_t bootstrap_seed = 42;  // SplitMix64 seed: the same resampling indices for every comparison of a set
  double level = 0.95;           // the bootstrap interval's coverage
  double alpha = 0.05;           // significance after Holm's correction over a set's comparisons
};

struct Comparison {
  std::string dataset, a, b;
  std::vector<uint64_t> seeds;    // seeds both models were evaluated with, ascending
  int64_t utterances = 0;         // labelled utterances both scored under every one of those seeds
  std::vector<double> delta_acc;  // ACC(A) - ACC(B) a seed (fractions), over the paired utterances
  std::vector<double> delta_ua;   // the same for UA
  // Semantic bias rate (A) - (B) a seed, over the paired conflict utterances with a text_label; empty when none.
  std::vector<double> delta_bias;
  PairedBootstrap ci;              // bootstrap intervals of the mean-over-seeds differences
  int64_t a_only = 0, b_only = 0;  // discordant pairs pooled over seeds: A right and B wrong, and the reverse
  double p = 1;                    // McNemar exact, pooled over seeds
  std::vector<double> p_seed;      // McNemar exact, each seed alone
  double p_holm = 1;               // `p` after Holm over the comparisons of the same set
  bool significant = false;        // p_holm < alpha
};

// The comparisons of `pairs` on every set where both models have runs under at least one common seed and a
// predictions.jsonl beside each results.json (a run without one is left out of the comparisons). An utterance
// whose label differs between the paired runs is a DataError naming both files.
std::vector<Comparison> CompareModels(const std::vector<const RunResult*>& runs, const std::vector<ModelPair>& pairs,
                                      const ComparisonOptions& options = {});

// Every model of `models` (the tables' row order) against the reference described above.
std::vector<ModelPair> DefaultComparisons(const std::vector<std::string>& models);

}  // namespace fas
