#include "fas/asr/ctc_decode.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "fas/core/error.h"

namespace fas {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// UTF-8 code points as strings (an invalid lead byte is taken as one byte).
std::vector<std::string> CodePoints(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    n = std::min(n, s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

bool IsSpecial(const std::string& t) { return t.size() > 2 && ((t.front() == '<' && t.back() == '>') || (t.front() == '[' && t.back() == ']')); }

double LogAdd(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

torch::Tensor Frames(const torch::Tensor& log_probs, int64_t frames) {
  if (log_probs.dim() != 2) throw DataError("CTC decoding needs log-probabilities [frames, vocabulary]");
  const int64_t T = frames < 0 ? log_probs.size(0) : std::min(frames, log_probs.size(0));
  return log_probs.slice(0, 0, T).to(torch::kCPU, torch::kFloat32).contiguous();
}

}  // namespace

CtcVocab::CtcVocab(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  blank_ = unk_ = delimiter_ = -1;
  bool has_upper = false, has_lower = false;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& t = tokens_[i];
    if (!index_.emplace(t, static_cast<int64_t>(i)).second) throw IoError("CTC vocabulary: token '" + t + "' repeated");
    if (t == "<pad>" || t == "[PAD]") blank_ = static_cast<int64_t>(i);
    if (t == "<unk>" || t == "[UNK]") unk_ = static_cast<int64_t>(i);
    if (t == "|") delimiter_ = static_cast<int64_t>(i);
    if (t.size() == 1 && std::isupper(static_cast<unsigned char>(t[0]))) has_upper = true;
    if (t.size() == 1 && std::islower(static_cast<unsigned char>(t[0]))) has_lower = true;
    if (!IsSpecial(t) && CodePoints(t).size() > 1) words_ = true;
  }
  if (blank_ < 0) throw IoError("CTC vocabulary has no <pad> token (the CTC blank)");
  if (delimiter_ < 0) throw IoError("CTC vocabulary has no word delimiter token '|'");
  upper_ = has_upper && !has_lower;
}

CtcVocab CtcVocab::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read CTC vocabulary " + path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || j.empty()) throw IoError(path + ": expected a non-empty mapping of token to id");
  std::vector<std::string> tokens(j.size());
  std::vector<bool> seen(j.size(), false);
  for (const auto& [token, id] : j.items()) {
    if (!id.is_number_integer()) throw IoError(path + ": id of token '" + token + "' is not an integer");
    const int64_t i = id.get<int64_t>();
    if (i < 0 || i >= static_cast<int64_t>(j.size()) || seen[i]) {
      throw IoError(path + ": token ids must be 0.." + std::to_string(j.size() - 1) + " without repeats; '" + token +
                    "' has " + std::to_string(i));
    }
    seen[i] = true;
    tokens[i] = token;
  }
  try {
    return CtcVocab(std::move(tokens));
  } catch (const IoError& e) {
    throw IoError(path + ": " + e.what());
  }
}

CtcVocab CtcVocab::FromTexts(const std::vector<std::string>& texts, const NormalizeOptions& normalization) {
  std::set<std::string> chars;
  for (const auto& t : texts) {
    for (auto& c : CodePoints(NormalizeText(t, normalization))) {
      if (c != " ") chars.insert(c);
    }
  }
  std::vector<std::string> tokens = {"<pad>", "<s>", "</s>", "<unk>", "|"};
  for (const auto& c : chars) {
    if (c != "|") tokens.push_back(c);
  }
  return CtcVocab(std::move(tokens));
}

CtcVocab CtcVocab::FromTextWords(const std::vector<std::string>& texts, const NormalizeOptions& normalization,
                                 int min_count) {
  std::map<std::string, int> counts;
  for (const auto& t : texts) {
    std::istringstream words(NormalizeText(t, normalization));
    for (std::string w; words >> w;) ++counts[w];
  }
  std::vector<std::string> tokens = {"<pad>", "<s>", "</s>", "<unk>", "|"};
  for (const auto& [w, n] : counts) {
    if (n >= min_count && w != "|" && !IsSpecial(w)) tokens.push_back(w);
  }
  return CtcVocab(std::move(tokens));
}

void CtcVocab::Save(const std::string& path) const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (size_t i = 0; i < tokens_.size(); ++i) j[tokens_[i]] = i;
  std::ofstream out(path);
  if (!(out << j.dump(2) << '\n') || !out.flush()) throw IoError("cannot write CTC vocabulary " + path);
}

std::vector<int64_t> CtcVocab::Encode(const std::string& text, const NormalizeOptions& normalization) const {
  std::string norm = NormalizeText(text, normalization);
  if (upper_) {
    for (auto& ch : norm) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  std::vector<int64_t> ids;
  if (words_) {
    std::istringstream words(norm);
    for (std::string w; words >> w;) {
      auto it = index_.find(w);
      if (it == index_.end() && unk_ < 0) {
        throw DataError("word '" + w + "' of \"" + text + "\" is not in the CTC vocabulary, which has no <unk>");
      }
      ids.push_back(it != index_.end() ? it->second : unk_);
    }
    return ids;
  }
  for (const auto& c : CodePoints(norm)) {
    if (c == " ") {
      ids.push_back(delimiter_);
      continue;
    }
    auto it = index_.find(c);
    if (it != index_.end()) {
      ids.push_back(it->second);
    } else if (unk_ >= 0) {
      ids.push_back(unk_);
    } else {
      throw DataError("character '" + c + "' of \"" + text + "\" is not in the CTC vocabulary, which has no <unk>");
    }
  }
  return ids;
}

std::string CtcVocab::Decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    if (id < 0 || id >= size()) throw DataError("CTC id " + std::to_string(id) + " outside the vocabulary");
    if (id == delimiter_) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    if (IsSpecial(tokens_[id])) continue;
    if (words_ && !out.empty() && out.back() != ' ') out += ' ';
    out += tokens_[id];
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (upper_) {
    for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::vector<int64_t> CtcGreedyDecode(const torch::Tensor& log_probs, int64_t blank, int64_t frames) {
  const auto best = Frames(log_probs, frames).argmax(1);
  const auto a = best.accessor<int64_t, 1>();
  std::vector<int64_t> out;
  int64_t prev = -1;
  for (int64_t t = 0; t < a.size(0); ++t) {
    if (a[t] != prev && a[t] != blank) out.push_back(a[t]);
    prev = a[t];
  }
  return out;
}

std::vector<int64_t> CtcBeamSearch(const torch::Tensor& log_probs, int64_t blank, int beam_width, int64_t frames) {
  if (beam_width < 1) throw ConfigError("CTC beam width must be at least 1, got " + std::to_string(beam_width));
  const auto lp = Frames(log_probs, frames);
  const auto a = lp.accessor<float, 2>();
  const int64_t T = lp.size(0), V = lp.size(1);
  if (blank < 0 || blank >= V) throw DataError("CTC blank id outside the vocabulary");
  struct Score {
    double blank = kNegInf, non_blank = kNegInf;  // prefix probability ending in a blank / in its last token
    double total() const { return LogAdd(blank, non_blank); }
  };
  std::map<std::vector<int64_t>, Score> beams;
  beams[{}].blank = 0.0;
  for (int64_t t = 0; t < T; ++t) {
    std::map<std::vector<int64_t>, Score> next;
    for (const auto& [prefix, s] : beams) {
      const double total = s.total();
      Score& same = next[prefix];
      same.blank = LogAdd(same.blank, total + a[t][blank]);
      for (int64_t c = 0; c < V; ++c) {
        if (c == blank) continue;
        const double p = a[t][c];
        std::vector<int64_t> extended = prefix;
        extended.push_back(c);
        Score& ext = next[extended];
        if (!prefix.empty() && prefix.back() == c) {
          // A repeat extends the prefix only across a blank; otherwise it merges into the last token.
          ext.non_blank = LogAdd(ext.non_blank, s.blank + p);
          Score& merged = next[prefix];
          merged.non_blank = LogAdd(merged.non_blank, s.non_blank + p);
        } else {
          ext.non_blank = LogAdd(ext.non_blank, total + p);
        }
      }
    }
    std::vector<std::pair<double, const std::vector<int64_t>*>> ranked;
    ranked.reserve(next.size());
    for (const auto& [prefix, s] : next) ranked.emplace_back(s.total(), &prefix);
    const size_t keep = std::min(ranked.size(), static_cast<size_t>(beam_width));
    std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(),
                      [](const auto& x, const auto& y) { return x.first > y.first; });
    std::map<std::vector<int64_t>, Score> pruned;
    for (size_t i = 0; i < keep; ++i) pruned.emplace(*ranked[i].second, next.at(*ranked[i].second));
    beams = std::move(pruned);
  }
  const std::vector<int64_t>* best = nullptr;
  double best_score = kNegInf;
  for (const auto& [prefix, s] : beams) {
    if (best == nullptr || s.total() > best_score) {
      best = &prefix;
      best_score = s.total();
    }
  }
  return best == nullptr ? std::vector<int64_t>{} : *best;
}

torch::Tensor CtcLoss(const torch::Tensor& logits, const torch::Tensor& frame_lengths,
                      const std::vector<std::vector<int64_t>>& targets, int64_t blank) {
  const int64_t B = logits.size(0);
  if (logits.dim() != 3 || static_cast<int64_t>(targets.size()) != B || frame_lengths.numel() != B) {
    throw DataError("CTC loss: logits [B, T, V], frame_lengths [B] and B target sequences are required");
  }
  std::vector<int64_t> flat, target_lengths;
  for (const auto& t : targets) {
    flat.insert(flat.end(), t.begin(), t.end());
    target_lengths.push_back(static_cast<int64_t>(t.size()));
  }
  const auto device = logits.device();
  auto log_probs = torch::log_softmax(logits.to(torch::kFloat32), -1).transpose(0, 1);
  auto targets_t = torch::tensor(flat, torch::kInt64).to(device);
  auto target_len_t = torch::tensor(target_lengths, torch::kInt64).to(device);
  return torch::ctc_loss(log_probs, targets_t, frame_lengths.to(device, torch::kInt64), target_len_t, blank,
                         at::Reduction::Mean, /*zero_infinity=*/true);
}

}  // namespace fas
