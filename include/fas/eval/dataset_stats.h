// The paper's Table 1 (dataset statistics) for the sets a suite evaluated: utterances, hours and classes after the
// label map, read from what an evaluation left (results.json, predictions.jsonl) and the manifest it scored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fas/eval/run_results.h"

namespace fas {

struct SetStatistics {
  std::string dataset, manifest;
  int64_t utterances = 0;  // scored (labelled after the label map)
  // Sum of the scored utterances' manifest durations; nullopt when the manifest is not found or some scored
  // utterance has no `duration` (counted in without_duration).
  std::optional<double> hours;
  int64_t without_duration = 0;
  std::vector<std::string> classes;  // classes in the truth after the label map, in the label set's order
  int64_t dropped = 0;               // utterances the label map dropped
};

// The statistics of the set `r` evaluated. The manifest is results.json's `manifest`, relative to the folder the
// evaluation ran in: found from the working directory, else from the folder that holds the run as results.json's
// `run` names it (runs/x/seed1 found at /a/runs/x/seed1: /a).
SetStatistics ReadSetStatistics(const RunResult& r);

}  // namespace fas
