// Text normalisation shared by everything that compares or tokenises words: the word error rate, tokenizer
// training and inference. One set of options applied identically everywhere, so that "Don't!" in a reference and
// "don't" from the recogniser count as the same word.
#pragma once

#include <string>
#include <vector>

namespace fas {

struct NormalizeOptions {
  bool lowercase = true;
  // Drops punctuation except apostrophes inside words ("don't", "o'clock") and hyphens joining words, which
  // become spaces ("well-known" -> "well known"), as recognisers' dictionaries spell them.
  bool strip_punctuation = true;
  // "words": digit runs become English words ("42" -> "forty two", "3.5" -> "three point five"), as a recogniser
  // outputs them; "keep": left as digits.
  std::string numbers = "words";

  template <class V>
  void Visit(V& v) {
    v("lowercase", lowercase, "lower-case everything");
    v("strip_punctuation", strip_punctuation, "remove punctuation (keeps in-word apostrophes)");
    v("numbers", numbers, "words | keep");
  }
  // Throws ConfigError on an unknown `numbers` mode.
  void Validate() const;
};

// Normalised text: words separated by single spaces, no leading or trailing space.
std::string NormalizeText(const std::string& text, const NormalizeOptions& options = {});

// NormalizeText, then split on spaces.
std::vector<std::string> NormalizeWords(const std::string& text, const NormalizeOptions& options = {});

// English words for a non-negative integer below 10^15 ("1203" -> "one thousand two hundred three").
std::string NumberToWords(unsigned long long n);

}  // namespace fas
