#include "fas/asr/wer.h"

#include <algorithm>
#include <cstdio>

namespace fas {

double WerCounts::Wer() const {
  if (ref_words == 0) return Errors() == 0 ? 0.0 : 1.0;
  return static_cast<double>(Errors()) / static_cast<double>(ref_words);
}

WerCounts& WerCounts::operator+=(const WerCounts& o) {
  substitutions += o.substitutions;
  deletions += o.deletions;
  insertions += o.insertions;
  ref_words += o.ref_words;
  utterances += o.utterances;
  return *this;
}

std::string WerCounts::Summary() const {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "WER %.1f%% (S %lld, D %lld, I %lld, N %lld, %lld utts)", 100.0 * Wer(),
                static_cast<long long>(substitutions), static_cast<long long>(deletions),
                static_cast<long long>(insertions), static_cast<long long>(ref_words),
                static_cast<long long>(utterances));
  return buf;
}

WerCounts AlignWords(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  const size_t n = ref.size(), m = hyp.size();
  // cost[i][j]: edits turning ref[0..i) into hyp[0..j); the backtrace recovers which edits they were.
  std::vector<std::vector<int>> cost(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) cost[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) cost[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int diag = cost[i - 1][j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1);
      cost[i][j] = std::min({diag, cost[i - 1][j] + 1, cost[i][j - 1] + 1});
    }
  }
  WerCounts c;
  c.ref_words = static_cast<int64_t>(n);
  c.utterances = 1;
  size_t i = n, j = m;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1)) {
      if (ref[i - 1] != hyp[j - 1]) ++c.substitutions;
      --i;
      --j;
    } else if (i > 0 && cost[i][j] == cost[i - 1][j] + 1) {
      ++c.deletions;
      --i;
    } else {
      ++c.insertions;
      --j;
    }
  }
  return c;
}

WerCounts ComputeWer(const std::string& ref, const std::string& hyp, const NormalizeOptions& options) {
  return AlignWords(NormalizeWords(ref, options), NormalizeWords(hyp, options));
}

}  // namespace fas
