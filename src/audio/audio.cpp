#include "fas/audio/audio.h"

#include <fcntl.h>
#include <sndfile.h>
#include <soxr.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "fas/core/error.h"

namespace fas {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

std::string MajorName(int format) {
  switch (format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV:
    case SF_FORMAT_WAVEX:
    case SF_FORMAT_RF64:
      return "WAV";
    case SF_FORMAT_FLAC:
      return "FLAC";
    case SF_FORMAT_OGG:
      return "OGG";
    case SF_FORMAT_AIFF:
      return "AIFF";
    case SF_FORMAT_AU:
      return "AU";
    case SF_FORMAT_W64:
      return "W64";
    case SF_FORMAT_CAF:
      return "CAF";
    case SF_FORMAT_MPEG:
      return "MPEG";
    default:
      return "OTHER";
  }
}

std::string SubtypeName(int format) {
  switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
      return "PCM_S8";
    case SF_FORMAT_PCM_U8:
      return "PCM_U8";
    case SF_FORMAT_PCM_16:
      return "PCM_16";
    case SF_FORMAT_PCM_24:
      return "PCM_24";
    case SF_FORMAT_PCM_32:
      return "PCM_32";
    case SF_FORMAT_FLOAT:
      return "FLOAT";
    case SF_FORMAT_DOUBLE:
      return "DOUBLE";
    case SF_FORMAT_ULAW:
      return "ULAW";
    case SF_FORMAT_ALAW:
      return "ALAW";
    case SF_FORMAT_VORBIS:
      return "VORBIS";
    case SF_FORMAT_OPUS:
      return "OPUS";
    case SF_FORMAT_MPEG_LAYER_III:
      return "MP3";
    default:
      return "OTHER";
  }
}

// libsndfile quietly shortens a WAV whose data chunk runs past the end of the file and only notes it in its log
// ("data : 64000 (should be 31978)"). A cut-off download must not pass as a shorter utterance, so that note is an
// error here. Streaming writers put 0 or 0xFFFFFFFF in the header; those are not truncation.
void CheckWavLength(const std::string& path, SNDFILE* file) {
  char log[4096] = {0};
  sf_command(file, SFC_GET_LOG_INFO, log, sizeof(log));
  const char* line = std::strstr(log, "\ndata : ");
  if (line == nullptr) return;
  unsigned long long header = 0;
  unsigned long long actual = 0;
  if (std::sscanf(line, "\ndata : %llu (should be %llu)", &header, &actual) != 2) return;
  if (header == 0 || header >= 0xFFFFFFFFull || actual >= header) return;
  throw IoError(path + ": truncated WAV: the header promises " + std::to_string(header) +
                " bytes of audio data but the file holds " + std::to_string(actual));
}

SndfilePtr Open(const std::string& path, SF_INFO& info) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw IoError(path + ": audio file not found");
  if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": is a folder, not an audio file");
  info = SF_INFO{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (f == nullptr) {
    throw IoError(path + ": cannot decode audio (" + sf_strerror(nullptr) +
                  "); supported: WAV, FLAC, OGG/Vorbis and the other formats libsndfile reads");
  }
  SndfilePtr file(f);
  if (info.samplerate <= 0 || info.channels <= 0) {
    throw IoError(path + ": invalid audio header (sample rate " + std::to_string(info.samplerate) + ", " +
                  std::to_string(info.channels) + " channels)");
  }
  // Beyond any real recording; a hostile header's rate (up to 2^31 Hz) would make resampling degenerate.
  constexpr int kMaxSampleRate = 768000;
  if (info.samplerate > kMaxSampleRate) {
    throw IoError(path + ": sample rate " + std::to_string(info.samplerate) + " Hz exceeds the limit of " +
                  std::to_string(kMaxSampleRate) + " Hz");
  }
  if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV) CheckWavLength(path, file.get());
  return file;
}

// Floats decoded from float files are passed through as stored, so a NaN or Inf in the file arrives here.
void CheckFinite(const std::string& path, const std::vector<float>& samples, int rate) {
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(samples[i])) {
      char at[64];
      std::snprintf(at, sizeof(at), "%.4f", static_cast<double>(i) / rate);
      throw DataError(path + ": " + (std::isnan(samples[i]) ? "NaN" : "Inf") + " sample at " + at + " s (sample " +
                      std::to_string(i) + "); the file is damaged");
    }
  }
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", s);
  return buf;
}

int FormatFor(const std::string& path, const std::string& subtype) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int major = 0;
  if (ext == ".wav") {
    major = SF_FORMAT_WAV;
  } else if (ext == ".flac") {
    major = SF_FORMAT_FLAC;
  } else if (ext == ".ogg") {
    major = SF_FORMAT_OGG;
  } else {
    throw IoError(path + ": cannot write audio with extension '" + ext + "' (use .wav, .flac or .ogg)");
  }
  int sub = 0;
  if (major == SF_FORMAT_OGG) {
    if (!subtype.empty() && subtype != "VORBIS") throw IoError(path + ": OGG is written as VORBIS only");
    return major | SF_FORMAT_VORBIS;
  }
  if (subtype.empty() || subtype == "PCM_16") {
    sub = SF_FORMAT_PCM_16;
  } else if (subtype == "PCM_24") {
    sub = SF_FORMAT_PCM_24;
  } else if (subtype == "PCM_32" && major == SF_FORMAT_WAV) {
    sub = SF_FORMAT_PCM_32;
  } else if (subtype == "FLOAT" && major == SF_FORMAT_WAV) {
    sub = SF_FORMAT_FLOAT;
  } else {
    throw IoError(path + ": cannot write subtype '" + subtype + "' as " + ext);
  }
  return major | sub;
}

}  // namespace

AudioInfo ProbeAudio(const std::string& path) {
  SF_INFO info;
  SndfilePtr file = Open(path, info);
  AudioInfo out;
  out.sample_rate = info.samplerate;
  out.channels = info.channels;
  out.frames = info.frames;
  out.duration = static_cast<double>(info.frames) / info.samplerate;
  out.format = MajorName(info.format) + " " + SubtypeName(info.format);
  return out;
}

std::vector<float> ReadAudio(const std::string& path, const AudioReadOptions& options) {
  SF_INFO info;
  SndfilePtr file = Open(path, info);
  const int rate = info.samplerate;
  const int channels = info.channels;
  if (info.frames <= 0) throw DataError(path + ": zero-length audio (no samples)");
  if (options.offset < 0) throw DataError(path + ": negative offset " + Seconds(options.offset) + " s");
  if (options.target_rate < 0) throw DataError(path + ": negative target sample rate");

  const int64_t start = std::llround(options.offset * rate);
  int64_t count = options.duration < 0 ? info.frames - start : std::llround(options.duration * rate);
  const double file_seconds = static_cast<double>(info.frames) / rate;
  if (start >= info.frames) {
    throw DataError(path + ": offset " + Seconds(options.offset) + " s is past the end of the audio (" +
                    Seconds(file_seconds) + " s)");
  }
  // Manifests round their times; a span that overruns the end by a hair (10 ms) is read up to the end.
  const int64_t slack = rate / 100;
  if (start + count > info.frames) {
    if (start + count > info.frames + slack) {
      throw DataError(path + ": span " + Seconds(options.offset) + " s + " + Seconds(options.duration) +
                      " s runs past the end of the audio (" + Seconds(file_seconds) + " s)");
    }
    count = info.frames - start;
  }
  if (count <= 0) throw DataError(path + ": zero-length span requested (duration " + Seconds(options.duration) + " s)");
  if (static_cast<double>(count) / rate > options.max_duration) {
    throw DataError(path + ": " + Seconds(static_cast<double>(count) / rate) + " s of audio exceeds the limit of " +
                    Seconds(options.max_duration) + " s");
  }
  if (start > 0 && sf_seek(file.get(), start, SEEK_SET) != start) {
    throw IoError(path + ": cannot seek to " + Seconds(options.offset) + " s (" + sf_strerror(file.get()) + ")");
  }

  std::vector<float> mono(static_cast<size_t>(count));
  int64_t got = 0;
  if (channels == 1) {
    got = sf_readf_float(file.get(), mono.data(), count);
  } else {
    // Interleaved blocks, averaged into mono as they arrive, so a long multichannel file needs no second copy.
    constexpr int64_t kBlock = 8192;
    std::vector<float> block(static_cast<size_t>(kBlock * channels));
    const float scale = 1.0f / static_cast<float>(channels);
    while (got < count) {
      const int64_t want = std::min(kBlock, count - got);
      const int64_t n = sf_readf_float(file.get(), block.data(), want);
      if (n <= 0) break;
      for (int64_t i = 0; i < n; ++i) {
        float sum = 0.0f;
        for (int c = 0; c < channels; ++c) sum += block[static_cast<size_t>(i * channels + c)];
        mono[static_cast<size_t>(got + i)] = sum * scale;
      }
      got += n;
    }
  }
  if (sf_error(file.get()) != SF_ERR_NO_ERROR) {
    throw IoError(path + ": decoding failed after " + std::to_string(got) + " of " + std::to_string(count) +
                  " frames (" + sf_strerror(file.get()) + ")");
  }
  if (got < count) {
    throw IoError(path + ": truncated audio: the header promises " + std::to_string(info.frames) +
                  " frames but reading stopped at frame " + std::to_string(start + got));
  }
  const int sub = info.format & SF_FORMAT_SUBMASK;
  if (sub == SF_FORMAT_FLOAT || sub == SF_FORMAT_DOUBLE) CheckFinite(path, mono, rate);
  if (options.target_rate == 0 || options.target_rate == rate) return mono;
  std::vector<float> out = Resample(mono, rate, options.target_rate);
  if (out.empty()) {
    throw DataError(path + ": too short to resample: " + std::to_string(mono.size()) + " samples at " +
                    std::to_string(rate) + " Hz give none at " + std::to_string(options.target_rate) + " Hz");
  }
  return out;
}

std::vector<float> Resample(const std::vector<float>& samples, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0) {
    throw DataError("resample: invalid rates " + std::to_string(from_rate) + " -> " + std::to_string(to_rate));
  }
  if (from_rate == to_rate || samples.empty()) return samples;
  const double ratio = static_cast<double>(to_rate) / from_rate;
  const size_t out_len = static_cast<size_t>(std::llround(static_cast<double>(samples.size()) * ratio));
  if (out_len == 0) return {};  // soxr must not be handed an empty output buffer
  std::vector<float> out(out_len);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  size_t done = 0;
  const soxr_error_t err = soxr_oneshot(from_rate, to_rate, 1, samples.data(), samples.size(), nullptr, out.data(),
                                        out_len, &done, &io, &quality, &runtime);
  if (err != nullptr) throw DataError(std::string("resample: soxr failed: ") + err);
  out.resize(done);
  return out;
}

void WriteAudio(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  WriteAudio(path, samples, sample_rate, AudioWriteOptions{});
}

void WriteAudio(const std::string& path, const std::vector<float>& samples, int sample_rate,
                const AudioWriteOptions& options) {
  if (sample_rate <= 0) throw IoError(path + ": cannot write audio at sample rate " + std::to_string(sample_rate));
  if (options.channels <= 0 || samples.size() % static_cast<size_t>(options.channels) != 0) {
    throw IoError(path + ": " + std::to_string(samples.size()) + " samples do not split into " +
                  std::to_string(options.channels) + " channels");
  }
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = options.channels;
  info.format = FormatFor(path, options.subtype);
  if (!sf_format_check(&info)) throw IoError(path + ": libsndfile cannot write this format/rate combination");

  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw IoError(path + ": cannot create " + tmp + ": " + std::strerror(errno));
  SNDFILE* f = sf_open_fd(fd, SFM_WRITE, &info, SF_FALSE);
  if (f == nullptr) {
    ::close(fd);
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot write audio (" + sf_strerror(nullptr) + ")");
  }
  // Out-of-range floats are clipped rather than wrapped around when converted to integers.
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t frames = static_cast<sf_count_t>(samples.size() / static_cast<size_t>(options.channels));
  const sf_count_t written = frames > 0 ? sf_writef_float(f, samples.data(), frames) : 0;
  const std::string write_error = written == frames ? "" : sf_strerror(f);
  sf_close(f);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!write_error.empty() || !synced) {
    std::remove(tmp.c_str());
    throw IoError(path + ": writing audio failed (" + (write_error.empty() ? "fsync" : write_error) + ")");
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot rename " + tmp + " into place: " + ec.message());
  }
}

}  // namespace fas
