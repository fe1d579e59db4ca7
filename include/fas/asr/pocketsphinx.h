// CMU pocketsphinx (Debian's 0.8+5prealpha, in-process C API) as a transcription back-end.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace fas {

class Transcriber;

struct PocketSphinxConfig {
  std::string model_dir = "/usr/share/pocketsphinx/model/en-us";  // holds en-us/, en-us.lm.bin, cmudict-en-us.dict
  std::string hmm;   // acoustic model folder; empty: <model_dir>/en-us
  std::string lm;    // language model (ARPA or binary); empty: <model_dir>/en-us.lm.bin
  std::string dict;  // pronunciation dictionary; empty: <model_dir>/cmudict-en-us.dict
  // Restricting the dictionary to a word list (with the generic English LM's own probabilities) shrinks the
  // search a lot. `vocabulary` is a file with one word a line; `frequent_words` adds the LM's N most probable
  // words so that the recogniser still has plenty of wrong words to choose from. Empty file: full dictionary.
  std::string vocabulary;
  int frequent_words = 0;
  // Search settings (pocketsphinx's own option names). The defaults are those measured in docs/synth.md: full
  // frame rate and 4 Gaussians (ds 2 / topn 2 halve the time but raised WER from 9.9 % to 15.4 %), narrow word
  // and HMM limits (maxwpf 5, maxhmmpf 3000, pl_window 10: about 2x faster than pocketsphinx's defaults at equal
  // accuracy on flite speech).
  int ds = 1;
  int topn = 4;
  int maxwpf = 5;
  int maxhmmpf = 3000;
  int pl_window = 10;
  double beam = 1e-48;
  double wbeam = 7e-29;
  double pbeam = 1e-48;
  bool fwdflat = true;
  bool bestpath = true;

  template <class V>
  void Visit(V& v) {
    v("model_dir", model_dir, "folder of Debian's pocketsphinx-en-us model");
    v("hmm", hmm, "acoustic model folder (default <model_dir>/en-us)");
    v("lm", lm, "language model (default <model_dir>/en-us.lm.bin)");
    v("dict", dict, "pronunciation dictionary (default <model_dir>/cmudict-en-us.dict)");
    v("vocabulary", vocabulary, "restrict the dictionary to these words (file, one a line)");
    v("frequent_words", frequent_words, "with vocabulary: also keep the LM's N most probable words");
    v("ds", ds, "frame downsampling");
    v("topn", topn, "Gaussians scored per frame");
    v("maxwpf", maxwpf, "max words per frame");
    v("maxhmmpf", maxhmmpf, "max active HMMs per frame");
    v("pl_window", pl_window, "phone lookahead window");
    v("beam", beam, "HMM beam");
    v("wbeam", wbeam, "word-exit beam");
    v("pbeam", pbeam, "phone-transition beam");
    v("fwdflat", fwdflat, "second flat-lexicon pass");
    v("bestpath", bestpath, "lattice best-path pass");
  }
  // Throws ConfigError naming a missing model file or an out-of-range setting.
  void Validate() const;
};

// One decoder; not thread-safe (use one per thread, as TranscribeFiles does). `work_dir` holds the restricted
// dictionary when `vocabulary` is set.
std::unique_ptr<Transcriber> CreatePocketSphinxTranscriber(const PocketSphinxConfig& config,
                                                           const std::string& work_dir);

// The dictionary file a config decodes with: the configured one, or (with `vocabulary`) a restricted copy
// written once under `work_dir` and reused. Returns the path; `missing` gets vocabulary words without a
// pronunciation.
std::string ResolvePocketSphinxDictionary(const PocketSphinxConfig& config, const std::string& work_dir,
                                          std::vector<std::string>* missing = nullptr);

}  // namespace fas
