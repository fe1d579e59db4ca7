// The fusion heads a config can name: one row a head, in the order the paper's tables list them, ours (late_fusion)
// last. FusionHeadNames, FusionHeadStreams, FusionHeadDescription and MakeFusionHead only read this table, so a new
// head is its file, its factory's declaration and its row here. An explicit table rather than self-registration: a
// static library leaves out an object file nothing references, and a head registering itself from one would be
// missing without a word.
#include <algorithm>

#include "fas/core/error.h"
#include "head_base.h"

namespace fas {

namespace fusion {

HeadFactory MakeFasHead;
HeadFactory MakeFasRandomSelectHead;
HeadFactory MakeFullAttentionHead;
HeadFactory MakeSingleStreamHead;
HeadFactory MakeConcatHead;
HeadFactory MakeGatedHead;
HeadFactory MakeCrossAttentionHead;
HeadFactory MakeLateFusionHead;

namespace {

struct HeadEntry {
  std::string name;
  HeadStreams streams;
  HeadFactory* make;
  std::string description;
};

constexpr HeadStreams kBoth{true, true}, kAcoustic{true, false}, kSemantic{false, true};

const std::vector<HeadEntry>& Registry() {
  static const std::vector<HeadEntry> heads = {
      {"fas", kBoth, MakeFasHead, "Top-K tokens of each stream, cross-attended by learnable queries"},
      {"acoustic_only", kAcoustic, MakeSingleStreamHead, "the acoustic stream alone, attentive or mean pooling"},
      {"semantic_only", kSemantic, MakeSingleStreamHead, "the semantic stream alone: the ASR-text baseline"},
      {"concat", kBoth, MakeConcatHead, "masked means of both streams, concatenated"},
      {"gated", kBoth, MakeGatedHead, "masked means of both streams, mixed by a learned sigmoid gate"},
      {"fas_random_select", kBoth, MakeFasRandomSelectHead, "as fas, but tokens picked at random in training"},
      {"fas_full_attention", kBoth, MakeFullAttentionHead, "one attention pooling over every token of both streams"},
      {"cross_attention", kBoth, MakeCrossAttentionHead, "acoustic tokens attend the semantic tokens, masked mean"},
      {"late_fusion", kBoth, MakeLateFusionHead, "a classifier per stream, logits mixed by learned stream weights"},
  };
  return heads;
}

const HeadEntry& Find(const std::string& name) {
  const auto& heads = Registry();
  const auto it = std::find_if(heads.begin(), heads.end(), [&](const HeadEntry& h) { return h.name == name; });
  if (it != heads.end()) return *it;
  std::string known;
  for (const auto& h : heads) known += (known.empty() ? "" : ", ") + h.name;
  throw ConfigError("model.head: unknown fusion head '" + name + "' (known: " + known + ")");
}

}  // namespace

}  // namespace fusion

const std::vector<std::string>& FusionHeadNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& h : fusion::Registry()) n.push_back(h.name);
    return n;
  }();
  return names;
}

HeadStreams FusionHeadStreams(const std::string& name) { return fusion::Find(name).streams; }

const std::string& FusionHeadDescription(const std::string& name) { return fusion::Find(name).description; }

std::shared_ptr<FusionHeadImpl> MakeFusionHead(const std::string& name, const FusionConfig& c, int64_t da, int64_t ds,
                                               int64_t classes) {
  c.Validate();
  if (classes < 1) throw ConfigError("a fusion head needs at least one class");
  const fusion::HeadEntry& head = fusion::Find(name);
  return head.make({head.name, head.streams, c, da, ds, classes});
}

}  // namespace fas
