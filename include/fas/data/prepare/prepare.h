// Manifests for the real corpora, read from the layout each distributor ships (docs/corpora.md). One preparer a
// corpus finds its marker files below the root however deep the archive nests them, maps the corpus's labels
// onto the canonical 7 classes with configs/labels/<corpus>.yaml, and reports everything it dropped or skipped.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "fas/data/labels.h"
#include "fas/data/manifest.h"

namespace fas::prepare {

struct PrepareOptions {
  std::string root;  // the folder the user unpacked the download into
  // The manifest the audio paths are made relative to (its folder); written by PrepareCorpus when not empty.
  std::string out;
  // `official` (the distributor's split; see docs/corpora.md), a single name (`train`, `test`, ...) for every
  // utterance, or a speaker-independent split `test=SPK,SPK;dev=SPK` (a trailing `*` matches a prefix, e.g.
  // `test=Ses05*`); speakers not listed go to `train`.
  std::string split = "official";
  bool keep_unmapped = false;  // keep labels the map drops, with their original name as the label
  bool merge_excited = false;  // IEMOCAP: excited -> happy instead of dropped
  std::string label_map;       // overrides configs/labels/<corpus>.yaml
};

struct PrepareResult {
  std::string corpus;
  std::vector<Utterance> utterances;    // as written, sorted by id
  LabelMapReport labels;                // what the label map did
  std::map<std::string, int> splits;    // split name -> utterances
  std::map<std::string, int> skipped;   // reason -> files or entries left out before labelling
  std::vector<std::string> warnings;    // things the user should look at (first examples of each skip)
};

// The corpora `fas prepare` knows, by their lower-case names.
const std::vector<std::string>& CorpusNames();

// Scans, maps, splits and (when options.out is set) writes the manifest. Throws DataError naming what is missing
// when the tree does not look like the corpus, ConfigError on a bad option.
PrepareResult PrepareCorpus(const std::string& corpus, const PrepareOptions& options);

// A few lines for the terminal: counts by split, the label map summary, skips and warnings.
std::string Summary(const PrepareResult& result);

}  // namespace fas::prepare
