#include "fas/asr/pocketsphinx.h"

#include <pocketsphinx.h>
#include <sphinxbase/ngram_model.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "fas/asr/transcriber.h"
#include "fas/core/error.h"
#include "fas/core/log.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

std::string Or(const std::string& value, const std::string& fallback) { return value.empty() ? fallback : value; }

std::string HmmPath(const PocketSphinxConfig& c) { return Or(c.hmm, c.model_dir + "/en-us"); }
std::string LmPath(const PocketSphinxConfig& c) { return Or(c.lm, c.model_dir + "/en-us.lm.bin"); }
std::string DictPath(const PocketSphinxConfig& c) { return Or(c.dict, c.model_dir + "/cmudict-en-us.dict"); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The LM's `n` most probable unigrams (sentence markers excluded), by unigram log probability.
std::vector<std::string> FrequentWords(const std::string& lm_path, int n) {
  logmath_t* lmath = logmath_init(1.0001, 0, 0);
  ngram_model_t* model = ngram_model_read(nullptr, lm_path.c_str(), NGRAM_AUTO, lmath);
  if (model == nullptr) {
    logmath_free(lmath);
    throw IoError("pocketsphinx cannot read the language model '" + lm_path + "'");
  }
  const int32 unigrams = static_cast<int32>(ngram_model_get_counts(model)[0]);
  std::vector<std::pair<int32, std::string>> scored;
  scored.reserve(unigrams);
  for (int32 wid = 0; wid < unigrams; ++wid) {
    const char* word = ngram_word(model, wid);
    if (word == nullptr || word[0] == '<') continue;
    int32 no_history = 0, n_used = 0;
    scored.emplace_back(ngram_ng_score(model, wid, &no_history, 0, &n_used), word);
  }
  ngram_model_free(model);
  logmath_free(lmath);
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> out;
  for (int i = 0; i < n && i < static_cast<int>(scored.size()); ++i) out.push_back(scored[i].second);
  return out;
}

std::mutex& InitMutex() {
  static std::mutex mu;
  return mu;
}

class PocketSphinxTranscriber : public Transcriber {
 public:
  PocketSphinxTranscriber(const PocketSphinxConfig& config, const std::string& work_dir) {
    config.Validate();
    const std::string dict = ResolvePocketSphinxDictionary(config, work_dir);
    auto num = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%g", v);
      return std::string(buf);
    };
    std::vector<std::string> args = {"-hmm",      HmmPath(config),
                                     "-lm",       LmPath(config),
                                     "-dict",     dict,
                                     "-logfn",    "/dev/null",
                                     "-ds",       std::to_string(config.ds),
                                     "-topn",     std::to_string(config.topn),
                                     "-maxwpf",   std::to_string(config.maxwpf),
                                     "-maxhmmpf", std::to_string(config.maxhmmpf),
                                     "-pl_window", std::to_string(config.pl_window),
                                     "-beam",     num(config.beam),
                                     "-wbeam",    num(config.wbeam),
                                     "-pbeam",    num(config.pbeam),
                                     "-fwdflat",  config.fwdflat ? "yes" : "no",
                                     "-bestpath", config.bestpath ? "yes" : "no"};
    std::ostringstream fp;
    // "reinit": transcripts cached before every utterance got a fresh decoder depended on decoding order.
    fp << "pocketsphinx-0.8 reinit";
    for (size_t i = 0; i + 1 < args.size(); i += 2) {
      if (args[i] == "-logfn") continue;
      fp << ' ' << args[i] << '=' << args[i + 1];
    }
    // The dictionary's content matters, not only its name (a restricted one is named by its hash already).
    std::error_code ec;
    fp << " dict_bytes=" << fs::file_size(dict, ec);
    fingerprint_ = fp.str();

    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    // sphinxbase keeps its logging set-up in process globals: initialise one decoder at a time.
    std::lock_guard<std::mutex> lock(InitMutex());
    cmd_ln_ = cmd_ln_parse_r(nullptr, ps_args(), static_cast<int32>(argv.size()), argv.data(), TRUE);
    if (cmd_ln_ == nullptr) throw ConfigError("pocketsphinx rejected its settings: " + fingerprint_);
    decoder_ = ps_init(cmd_ln_);
    if (decoder_ == nullptr) {
      cmd_ln_free_r(cmd_ln_);
      throw IoError("pocketsphinx could not load its model (hmm '" + HmmPath(config) + "', lm '" + LmPath(config) +
                    "', dict '" + dict + "')");
    }
  }

  ~PocketSphinxTranscriber() override {
    ps_free(decoder_);
    cmd_ln_free_r(cmd_ln_);
  }

  std::string Transcribe(const std::vector<float>& samples) override {
    pcm_.resize(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      pcm_[i] = static_cast<int16>(std::lrint(std::clamp(samples[i], -1.0f, 1.0f) * 32767.0f));
    }
    // A decoder carries state from one utterance to the next beyond what ps_start_utt resets (measured on 80
    // conflict utterances: decoded in one order or in two interleaved orders, 7 transcripts differed; priming with a
    // fixed signal first still left 1). ps_reinit reloads the models from the same settings, so every utterance is
    // decoded as by a fresh decoder whatever came before, whatever the thread count and whichever files were cached.
    // It costs about 0.1 s of CPU an utterance (0.25 s -> 0.35 s on the corpus's 2.7 s utterances).
    {
      std::lock_guard<std::mutex> lock(InitMutex());  // reinit sets up sphinxbase's process-global logging again
      if (ps_reinit(decoder_, nullptr) < 0) throw IoError("pocketsphinx could not reload its model: " + fingerprint_);
    }
    if (ps_start_utt(decoder_) < 0 || ps_process_raw(decoder_, pcm_.data(), pcm_.size(), FALSE, TRUE) < 0 ||
        ps_end_utt(decoder_) < 0) {
      throw DataError("pocketsphinx failed to decode an utterance of " + std::to_string(samples.size()) +
                      " samples");
    }
    const char* hyp = ps_get_hyp(decoder_, nullptr);
    return hyp ? std::string(hyp) : std::string();
  }

  std::string Fingerprint() const override { return fingerprint_; }

 private:
  cmd_ln_t* cmd_ln_ = nullptr;
  ps_decoder_t* decoder_ = nullptr;
  std::string fingerprint_;
  std::vector<int16> pcm_;
};

}  // namespace

void PocketSphinxConfig::Validate() const {
  for (const auto& [what, path] : {std::pair<std::string, std::string>{"acoustic model", HmmPath(*this) + "/mdef"},
                                   {"language model", LmPath(*this)},
                                   {"dictionary", DictPath(*this)}}) {
    if (!fs::exists(path)) {
      throw ConfigError("pocketsphinx " + what + " '" + path +
                        "' not found (install pocketsphinx-en-us, or set asr.pocketsphinx.model_dir)");
    }
  }
  if (!vocabulary.empty() && !fs::exists(vocabulary)) {
    throw ConfigError("pocketsphinx vocabulary file '" + vocabulary + "' not found");
  }
  if (ds < 1 || topn < 1 || maxwpf < 1 || maxhmmpf < 1 || pl_window < 0 || frequent_words < 0) {
    throw ConfigError("pocketsphinx settings out of range: ds, topn, maxwpf, maxhmmpf must be >= 1, pl_window and "
                      "frequent_words >= 0");
  }
  for (double b : {beam, wbeam, pbeam}) {
    if (!(b > 0.0 && b < 1.0)) throw ConfigError("pocketsphinx beams must lie in (0, 1), got " + std::to_string(b));
  }
}

std::string ResolvePocketSphinxDictionary(const PocketSphinxConfig& config, const std::string& work_dir,
                                          std::vector<std::string>* missing) {
  if (config.vocabulary.empty()) return DictPath(config);
  const std::string vocab_text = ReadAll(config.vocabulary);
  const std::string key = ContentHash(vocab_text + "|" + std::to_string(config.frequent_words) + "|" +
                                      LmPath(config) + "|" + DictPath(config));
  const fs::path out = fs::path(work_dir) / ("dict-" + key + ".dict");
  std::set<std::string> words;
  {
    std::istringstream in(vocab_text);
    for (std::string w; in >> w;) words.insert(w);
  }
  static std::mutex mu;  // one thread builds it, the others wait and reuse it
  std::lock_guard<std::mutex> lock(mu);
  if (fs::exists(out) && missing == nullptr) return out.string();
  if (config.frequent_words > 0) {
    for (auto& w : FrequentWords(LmPath(config), config.frequent_words)) words.insert(w);
  }
  std::ifstream dict(DictPath(config));
  if (!dict) throw IoError("cannot read the pocketsphinx dictionary '" + DictPath(config) + "'");
  std::ostringstream kept;
  std::set<std::string> found;
  for (std::string line; std::getline(dict, line);) {
    std::string head = line.substr(0, line.find(' '));
    const auto paren = head.find('(');  // alternative pronunciations: "word(2)"
    if (paren != std::string::npos) head = head.substr(0, paren);
    if (words.count(head)) {
      kept << line << '\n';
      found.insert(head);
    }
  }
  if (missing != nullptr) {
    missing->clear();
    for (const auto& w : words) {
      if (!found.count(w)) missing->push_back(w);
    }
  }
  if (!fs::exists(out)) {
    fs::create_directories(work_dir);
    const fs::path tmp = out.string() + ".tmp";
    {
      std::ofstream o(tmp);
      o << kept.str();
      if (!o) throw IoError("cannot write '" + tmp.string() + "'");
    }
    fs::rename(tmp, out);
  }
  return out.string();
}

std::unique_ptr<Transcriber> CreatePocketSphinxTranscriber(const PocketSphinxConfig& config,
                                                           const std::string& work_dir) {
  return std::make_unique<PocketSphinxTranscriber>(config, work_dir);
}

}  // namespace fas
