// Transcription back-ends behind one interface, created by name from the config (pocketsphinx; the CTC head
// registers itself as "ctc"), and a parallel, cached batch transcription over audio files.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fas/asr/ctc_config.h"
#include "fas/asr/pocketsphinx.h"

namespace fas {

class Transcriber {
 public:
  virtual ~Transcriber() = default;
  // 16 kHz mono samples in [-1, 1] -> lower-case words separated by spaces ("" when nothing was heard).
  virtual std::string Transcribe(const std::vector<float>& samples) = 0;
  // Everything that changes the output (back-end, model files, search settings): part of the cache key.
  virtual std::string Fingerprint() const = 0;
};

struct TranscriberConfig {
  std::string backend = "pocketsphinx";
  PocketSphinxConfig pocketsphinx;
  CtcTranscriberConfig ctc;  // the "ctc" back-end (fas/encoders/ctc_model.h registers it)
  bool cache = true;
  // Transcript cache folder; empty: $FAS_CACHE_DIR/transcripts, else $XDG_CACHE_HOME/fas/transcripts, else
  // ~/.cache/fas/transcripts.
  std::string cache_dir;

  template <class V>
  void Visit(V& v) {
    v("backend", backend, "pocketsphinx (or another registered back-end)");
    v("pocketsphinx", pocketsphinx);
    v("ctc", ctc);
    v("cache", cache, "reuse transcripts of identical audio decoded with identical settings");
    v("cache_dir", cache_dir, "transcript cache folder");
  }
  std::string ResolvedCacheDir() const;
};

using TranscriberFactory = std::function<std::unique_ptr<Transcriber>(const TranscriberConfig&)>;

// Adds a back-end (a later registration under the same name replaces it). "pocketsphinx" is built in.
void RegisterTranscriber(const std::string& name, TranscriberFactory factory);
std::vector<std::string> TranscriberNames();
// Throws ConfigError on an unknown back-end name (listing the known ones).
std::unique_ptr<Transcriber> CreateTranscriber(const TranscriberConfig& config);

struct TranscribeStats {
  int64_t decoded = 0;
  int64_t cached = 0;
  double audio_seconds = 0.0;   // of the decoded (not cached) files
  double decode_seconds = 0.0;  // wall time of the decoding
};

// A decoder with the transcript cache in front of it: a file whose bytes were already decoded with the same
// settings is answered from the cache. One instance per thread; the decoder is created on first need.
class CachedTranscriber {
 public:
  explicit CachedTranscriber(TranscriberConfig config);
  ~CachedTranscriber();
  std::string TranscribeFile(const std::string& path, bool* from_cache = nullptr);
  // Decoded (not cached) audio so far, in seconds.
  double decoded_seconds() const { return decoded_seconds_; }

 private:
  TranscriberConfig config_;
  std::unique_ptr<Transcriber> decoder_;
  std::string fingerprint_;
  double decoded_seconds_ = 0.0;
};

// Transcribes audio files (any format fas::ReadAudio reads) on `threads` threads, one decoder each; a file whose
// bytes and decoder fingerprint are already in the cache is not decoded again. Results are in input order.
// `failures`: when given, a file that cannot be read (a fas::Error: missing, corrupt, NaN audio) gets its error
// there, at its position, and an empty transcript, instead of stopping the whole run.
std::vector<std::string> TranscribeFiles(const std::vector<std::string>& paths, const TranscriberConfig& config,
                                         int threads, TranscribeStats* stats = nullptr,
                                         std::vector<std::string>* failures = nullptr);

// 128-bit content hash (hex) used for cache keys; stable across runs and machines.
std::string ContentHash(const std::string& bytes);

}  // namespace fas
