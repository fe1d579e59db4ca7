// EMIS (Emotionally Incongruent Synthetic speech, Zenodo): 1248 TTS utterances whose tone and words disagree,
// named {sentence-ID}_{text-emotion}_{audio-emotion}_{ESD-speaker-ID}_{TTS}.wav with the emotions angry, happy,
// neutral, sad. `label` is the audio emotion (the voice's), `text_label` the text emotion. Field values are not
// assumed free of '_' except the two emotions, which are found as the first pair of emotion words.
#include <set>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

bool IsEmotionWord(const std::string& s) {
  static const std::set<std::string> words = {"angry", "anger", "happy", "happiness", "neutral", "sad", "sadness"};
  return words.count(Lower(s)) > 0;
}

}  // namespace

ScanResult ScanEmis(const fs::path& root) {
  const Tree tree = WalkTree(root);
  ScanResult result;
  result.default_split = "test";
  for (const auto& f : tree.files) {
    if (!IsAudioExtension(f.extension().string())) continue;
    const auto fields = Split(f.stem().string(), '_');
    size_t k = 0;  // index of the text emotion; 0 = not found (the sentence id comes first)
    for (size_t i = 1; i + 3 < fields.size(); ++i) {
      if (IsEmotionWord(fields[i]) && IsEmotionWord(fields[i + 1])) {
        k = i;
        break;
      }
    }
    if (k == 0) {
      result.Skip("name is not {sentence}_{text-emotion}_{audio-emotion}_{speaker}_{tts}", f.string());
      continue;
    }
    std::string sentence = fields[0], tts = fields[k + 3];
    for (size_t i = 1; i < k; ++i) sentence += "_" + fields[i];
    for (size_t i = k + 4; i < fields.size(); ++i) tts += "_" + fields[i];
    RawUtterance r;
    r.u.id = "emis:" + f.stem().string();
    r.u.audio = f.string();
    r.u.speaker = fields[k + 2];
    r.u.language = "en";
    r.text_label = Lower(fields[k]);
    r.label = Lower(fields[k + 1]);
    r.u.extra["sentence_id"] = sentence;
    r.u.extra["tts"] = tts;
    result.items.push_back(std::move(r));
  }
  if (result.items.empty()) {
    ThrowMissing("emis", root, "no audio file named {sentence}_{text-emotion}_{audio-emotion}_{speaker}_{tts}.wav");
  }
  return result;
}

}  // namespace fas::prepare
