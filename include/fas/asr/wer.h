// Word error rate: Levenshtein alignment over words after the shared text normalisation (fas/text/normalize.h),
// with the substitution, deletion and insertion counts kept apart so that they can be summed over a corpus.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fas/text/normalize.h"

namespace fas {

struct WerCounts {
  int64_t substitutions = 0;
  int64_t deletions = 0;   // reference words the hypothesis lacks
  int64_t insertions = 0;  // hypothesis words the reference lacks
  int64_t ref_words = 0;
  int64_t utterances = 0;

  int64_t Errors() const { return substitutions + deletions + insertions; }
  // Errors / reference words (can exceed 1 with many insertions); 0 for an empty reference with no errors.
  double Wer() const;
  WerCounts& operator+=(const WerCounts& o);
  // "WER 12.3% (S 10, D 2, I 1, N 105, 20 utts)"
  std::string Summary() const;
};

// Minimum-edit alignment of two word sequences; ties prefer substitutions, then deletions, then insertions.
WerCounts AlignWords(const std::vector<std::string>& ref, const std::vector<std::string>& hyp);

// Normalises both strings with `options`, then aligns them.
WerCounts ComputeWer(const std::string& ref, const std::string& hyp, const NormalizeOptions& options = {});

}  // namespace fas
