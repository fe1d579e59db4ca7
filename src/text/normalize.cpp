#include "fas/text/normalize.h"

#include <cctype>

#include "fas/core/error.h"

namespace fas {

namespace {

const char* const kOnes[] = {"zero",    "one",     "two",       "three",    "four",    "five",    "six",
                             "seven",   "eight",   "nine",      "ten",      "eleven",  "twelve",  "thirteen",
                             "fourteen", "fifteen", "sixteen",   "seventeen", "eighteen", "nineteen"};
const char* const kTens[] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};

void Append(std::string& out, const std::string& word) {
  if (!out.empty()) out += ' ';
  out += word;
}

// Below one thousand, appended to `out`.
void SmallNumber(unsigned n, std::string& out) {
  if (n >= 100) {
    Append(out, kOnes[n / 100]);
    Append(out, "hundred");
    n %= 100;
    if (n == 0) return;
  }
  if (n < 20) {
    Append(out, kOnes[n]);
  } else {
    Append(out, kTens[n / 10]);
    if (n % 10) Append(out, kOnes[n % 10]);
  }
}

std::string DigitsToWords(const std::string& digits) {
  // Leading zeros ("007") and very long runs are read digit by digit, as people say them.
  if (digits.size() > 15 || (digits.size() > 1 && digits[0] == '0')) {
    std::string out;
    for (char c : digits) Append(out, kOnes[c - '0']);
    return out;
  }
  return NumberToWords(std::stoull(digits));
}

bool IsDigitAt(const std::string& s, size_t i) {
  return i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]));
}

bool IsWordChar(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

}  // namespace

void NormalizeOptions::Validate() const {
  if (numbers != "words" && numbers != "keep") {
    throw ConfigError("normalize.numbers must be 'words' or 'keep', got '" + numbers + "'");
  }
}

std::string NumberToWords(unsigned long long n) {
  if (n == 0) return "zero";
  static const char* const kScales[] = {"", "thousand", "million", "billion", "trillion"};
  unsigned groups[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < 5 && n > 0; ++i, n /= 1000) groups[i] = static_cast<unsigned>(n % 1000);
  std::string out;
  for (int i = 4; i >= 0; --i) {
    if (groups[i] == 0) continue;
    SmallNumber(groups[i], out);
    if (i > 0) Append(out, kScales[i]);
  }
  return out;
}

std::string NormalizeText(const std::string& text, const NormalizeOptions& options) {
  options.Validate();
  // Pass 1: numbers to words (a decimal point between digits is read "point").
  std::string spelled;
  if (options.numbers == "words") {
    for (size_t i = 0; i < text.size();) {
      if (IsDigitAt(text, i)) {
        size_t j = i;
        while (IsDigitAt(text, j) || (j < text.size() && text[j] == ',')) {
          // A comma is a thousands separator only when three digits follow it ("1,000" but "1, 2").
          if (text[j] == ',' && !(IsDigitAt(text, j + 1) && IsDigitAt(text, j + 2) && IsDigitAt(text, j + 3))) {
            break;
          }
          ++j;
        }
        std::string digits;
        for (size_t k = i; k < j; ++k) {
          if (text[k] != ',') digits += text[k];
        }
        spelled += ' ' + DigitsToWords(digits) + ' ';
        if (j < text.size() && text[j] == '.' && IsDigitAt(text, j + 1)) {
          spelled += "point";
          ++j;
          while (IsDigitAt(text, j)) {
            spelled += ' ' + std::string(kOnes[text[j] - '0']);
            ++j;
          }
          spelled += ' ';
        }
        i = j;
      } else {
        spelled += text[i++];
      }
    }
  } else {
    spelled = text;
  }
  // Pass 2: case, punctuation, whitespace.
  std::string out;
  bool pending_space = false;
  for (size_t i = 0; i < spelled.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(spelled[i]);
    if (std::isspace(c)) {
      pending_space = true;
      continue;
    }
    if (options.strip_punctuation && !IsWordChar(c)) {
      const bool inner_apostrophe = c == '\'' && i > 0 && i + 1 < spelled.size() &&
                                    IsWordChar(static_cast<unsigned char>(spelled[i - 1])) &&
                                    IsWordChar(static_cast<unsigned char>(spelled[i + 1]));
      if (!inner_apostrophe) {
        pending_space = true;
        continue;
      }
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += options.lowercase ? static_cast<char>(std::tolower(c)) : static_cast<char>(c);
  }
  return out;
}

std::vector<std::string> NormalizeWords(const std::string& text, const NormalizeOptions& options) {
  std::vector<std::string> words;
  const std::string norm = NormalizeText(text, options);
  size_t start = 0;
  while (start < norm.size()) {
    size_t end = norm.find(' ', start);
    if (end == std::string::npos) end = norm.size();
    words.push_back(norm.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

}  // namespace fas
