// Reading and writing audio (libsndfile) and resampling (libsoxr). Every sample leaves here as mono float32 in
// [-1, 1] at the rate asked for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fas {

struct AudioInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;
  double duration = 0.0;  // seconds
  std::string format;     // "WAV PCM_16", "FLAC PCM_24", "OGG VORBIS", ...
};

struct AudioReadOptions {
  int target_rate = 16000;     // 0 keeps the file's rate
  double offset = 0.0;         // seconds from the start; only this span is read (seek, not decode-and-drop)
  double duration = -1.0;      // seconds; negative reads to the end
  double max_duration = 3600;  // a read longer than this is refused before allocating (hostile input)
};

// Header only; throws IoError naming the file on anything unreadable.
AudioInfo ProbeAudio(const std::string& path);

// Decodes, mixes to mono, resamples. Throws IoError (unreadable, truncated, unsupported) or DataError (zero
// length, NaN/Inf samples, span outside the file), each naming the file.
std::vector<float> ReadAudio(const std::string& path, const AudioReadOptions& options = {});

// Writes mono float samples; the format follows the extension (.wav: PCM 16-bit, .flac: 16-bit FLAC).
// Written to a temporary file and renamed, so a killed process never leaves a half file under the real name.
void WriteAudio(const std::string& path, const std::vector<float>& samples, int sample_rate);

struct AudioWriteOptions {
  int channels = 1;     // `samples` are interleaved when > 1
  std::string subtype;  // "" = PCM_16; WAV: PCM_16, PCM_24, PCM_32, FLOAT; FLAC: PCM_16, PCM_24; OGG: VORBIS
};
// The same, with the channel count and sample format chosen (.ogg writes OGG/Vorbis).
void WriteAudio(const std::string& path, const std::vector<float>& samples, int sample_rate,
                const AudioWriteOptions& options);

// High-quality resampling (soxr HQ). Returns the input unchanged when the rates match, and nothing when the input
// is too short to give one sample at the new rate.
std::vector<float> Resample(const std::vector<float>& samples, int from_rate, int to_rate);

}  // namespace fas
