#include "fas/data/synth/pool.h"

#include <cmath>
#include <fstream>
#include <set>

#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/text/normalize.h"
#include "rng.h"

namespace fas::synth {

namespace {

constexpr int kMinSentences = 60;

std::string Trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// Non-empty lines that are not `#` comments.
std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read sentence file '" + path + "'");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    line = Trim(line);
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

std::map<std::string, std::vector<std::string>> ReadSlots(const std::string& path) {
  std::map<std::string, std::vector<std::string>> slots;
  int number = 0;
  for (const auto& line : ReadLines(path)) {
    ++number;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) throw DataError(path + ": slot line '" + line + "' lacks 'name: a, b, ...'");
    auto& fillers = slots[Trim(line.substr(0, colon))];
    std::string rest = line.substr(colon + 1);
    for (size_t start = 0; start <= rest.size();) {
      size_t end = rest.find(',', start);
      if (end == std::string::npos) end = rest.size();
      const std::string f = Trim(rest.substr(start, end - start));
      if (!f.empty()) fillers.push_back(f);
      start = end + 1;
    }
  }
  return slots;
}

// The slot names a template uses.
std::vector<std::string> SlotsOf(const std::string& tmpl) {
  std::vector<std::string> names;
  for (size_t open = tmpl.find('{'); open != std::string::npos; open = tmpl.find('{', open + 1)) {
    const size_t close = tmpl.find('}', open);
    if (close == std::string::npos) break;
    names.push_back(tmpl.substr(open + 1, close - open - 1));
  }
  return names;
}

// Moves a seeded `fraction` of `all` (at least one) into `heldout`, keeping the rest in `kept`, both in file order.
void SplitHeldOut(const std::vector<std::string>& all, double fraction, std::mt19937_64& rng,
                  std::vector<std::string>& kept, std::vector<std::string>& heldout) {
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Shuffle(order, rng);
  const size_t n_held = all.empty() ? 0 : std::max<size_t>(1, static_cast<size_t>(std::lround(fraction * all.size())));
  std::vector<bool> held(all.size(), false);
  for (size_t i = 0; i < n_held && i < order.size(); ++i) held[order[i]] = true;
  for (size_t i = 0; i < all.size(); ++i) (held[i] ? heldout : kept).push_back(all[i]);
}

}  // namespace

std::string ExpandTemplate(const std::string& tmpl, const std::map<std::string, std::vector<std::string>>& slots,
                           std::mt19937_64& rng) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = tmpl.find('{', pos);
    if (open == std::string::npos) break;
    const size_t close = tmpl.find('}', open);
    out += tmpl.substr(pos, open - pos);
    const std::string name = tmpl.substr(open + 1, close - open - 1);
    auto it = slots.find(name);
    if (it == slots.end() || it->second.empty()) throw DataError("template '" + tmpl + "' uses unknown slot {" + name + "}");
    out += it->second[PickIndex(rng, it->second.size())];
    pos = close + 1;
  }
  out += tmpl.substr(pos);
  // A slot filler starting the sentence ("the station ...") is capitalised as a sentence would be.
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

SentencePool LoadSentencePool(const std::string& dir, const std::vector<std::string>& emotions,
                              double heldout_fraction, uint64_t seed) {
  SentencePool pool;
  pool.slots = ReadSlots(dir + "/templates/slots.txt");
  std::map<std::string, std::string> owner;  // normalised sentence -> emotion, to refuse ambiguous words
  for (const auto& emotion : emotions) {
    const std::string sentence_file = dir + "/sentences/" + emotion + ".txt";
    const std::string template_file = dir + "/templates/" + emotion + ".txt";
    std::vector<std::string> sentences = ReadLines(sentence_file);
    const std::vector<std::string> templates = ReadLines(template_file);
    std::set<std::string> distinct;
    for (const auto& s : sentences) {
      const std::string norm = NormalizeText(s);
      distinct.insert(norm);
      auto [it, fresh] = owner.emplace(norm, emotion);
      if (!fresh && it->second != emotion) {
        throw DataError(sentence_file + ": \"" + s + "\" also appears in the " + it->second + " pool");
      }
    }
    if (static_cast<int>(distinct.size()) < kMinSentences) {
      throw DataError(sentence_file + " has " + std::to_string(distinct.size()) + " distinct sentences; at least " +
                      std::to_string(kMinSentences) + " are needed");
    }
    for (const auto& t : templates) {
      for (const auto& name : SlotsOf(t)) {
        if (!pool.slots.count(name)) throw DataError(template_file + ": template '" + t + "' uses unknown slot {" + name + "}");
      }
    }
    std::mt19937_64 rng(DeriveSeed(seed, "synth/heldout/" + emotion));
    EmotionPool& ep = pool.emotions[emotion];
    SplitHeldOut(sentences, heldout_fraction, rng, ep.sentences, ep.heldout_sentences);
    SplitHeldOut(templates, heldout_fraction, rng, ep.templates, ep.heldout_templates);
  }
  return pool;
}

std::vector<std::string> SentencePool::Vocabulary() const {
  std::set<std::string> words;
  auto add = [&](const std::string& text) {
    for (auto& w : NormalizeWords(text)) words.insert(w);
  };
  for (const auto& [emotion, ep] : emotions) {
    for (const auto* list : {&ep.sentences, &ep.heldout_sentences}) {
      for (const auto& s : *list) add(s);
    }
    for (const auto* list : {&ep.templates, &ep.heldout_templates}) {
      for (const auto& t : *list) {
        std::string skeleton = t;
        for (size_t open = skeleton.find('{'); open != std::string::npos; open = skeleton.find('{')) {
          skeleton.erase(open, skeleton.find('}', open) - open + 1);
        }
        add(skeleton);
      }
    }
  }
  for (const auto& [name, fillers] : slots) {
    for (const auto& f : fillers) add(f);
  }
  return {words.begin(), words.end()};
}

}  // namespace fas::synth
