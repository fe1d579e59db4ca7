#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;
using fas::testing::WriteFile;

// WAV bytes built by hand, so decoding is checked against values that do not come from our own writer.
void Put16(std::string& s, uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void Put32(std::string& s, uint32_t v) {
  Put16(s, v & 0xFFFF);
  Put16(s, v >> 16);
}
std::string Wav(uint16_t format_tag, int channels, int rate, int bits, const std::string& data,
                int64_t claimed_data_bytes = -1) {
  const uint32_t data_len = claimed_data_bytes < 0 ? static_cast<uint32_t>(data.size())
                                                   : static_cast<uint32_t>(claimed_data_bytes);
  std::string s = "RIFF";
  Put32(s, 36 + data_len);
  s += "WAVEfmt ";
  Put32(s, 16);
  Put16(s, format_tag);
  Put16(s, static_cast<uint32_t>(channels));
  Put32(s, static_cast<uint32_t>(rate));
  Put32(s, static_cast<uint32_t>(rate * channels * bits / 8));
  Put16(s, static_cast<uint32_t>(channels * bits / 8));
  Put16(s, static_cast<uint32_t>(bits));
  s += "data";
  Put32(s, data_len);
  return s + data;
}
std::string Pcm16(const std::vector<int>& v) {
  std::string s;
  for (int x : v) Put16(s, static_cast<uint16_t>(static_cast<int16_t>(x)));
  return s;
}
std::string Pcm24(const std::vector<int>& v) {
  std::string s;
  for (int x : v) {
    const uint32_t u = static_cast<uint32_t>(x);
    s += static_cast<char>(u & 0xFF);
    s += static_cast<char>((u >> 8) & 0xFF);
    s += static_cast<char>((u >> 16) & 0xFF);
  }
  return s;
}
std::string Pcm32(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) Put32(s, static_cast<uint32_t>(static_cast<int32_t>(x)));
  return s;
}
std::string Float32(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

template <class E>
std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<float> Sine(double freq, double amp, int rate, double seconds) {
  std::vector<float> x(static_cast<size_t>(std::lround(rate * seconds)));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(amp * std::sin(2 * M_PI * freq * i / rate));
  return x;
}

// Frequency from the first and last upward zero crossings (linear interpolation between samples).
double ZeroCrossingFrequency(const std::vector<float>& x, int rate, size_t begin, size_t end) {
  double first = -1;
  double last = -1;
  int crossings = 0;
  for (size_t i = begin + 1; i < end; ++i) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      const double t = (i - 1) + x[i - 1] / (x[i - 1] - x[i]);
      if (first < 0) first = t;
      last = t;
      ++crossings;
    }
  }
  return (crossings - 1) / ((last - first) / rate);
}

// Amplitude of the component at `freq` by least squares on sin and cos.
double AmplitudeAt(const std::vector<float>& x, int rate, double freq, size_t begin, size_t end) {
  double s = 0;
  double c = 0;
  for (size_t i = begin; i < end; ++i) {
    s += x[i] * std::sin(2 * M_PI * freq * i / rate);
    c += x[i] * std::cos(2 * M_PI * freq * i / rate);
  }
  const double n = static_cast<double>(end - begin);
  return 2.0 * std::sqrt(s * s + c * c) / n;
}

TEST(AudioDecode, Pcm16KnownValues) {
  TempDir d;
  WriteFile(d / "a.wav", Wav(1, 1, 16000, 16, Pcm16({0, 1000, -1000, 32767, -32768, 12345})));
  const auto x = fas::ReadAudio(d / "a.wav", {.target_rate = 0});
  const std::vector<float> want = {0.0f, 1000 / 32768.0f, -1000 / 32768.0f, 32767 / 32768.0f, -1.0f, 12345 / 32768.0f};
  ASSERT_EQ(x.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(x[i], want[i]) << i;
  const auto info = fas::ProbeAudio(d / "a.wav");
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.frames, 6);
  EXPECT_EQ(info.format, "WAV PCM_16");
}

TEST(AudioDecode, Pcm24Pcm32AndFloatKnownValues) {
  TempDir d;
  WriteFile(d / "a24.wav", Wav(1, 1, 22050, 24, Pcm24({0, 4194304, -8388608, 8388607, -1})));
  WriteFile(d / "a32.wav", Wav(1, 1, 48000, 32, Pcm32({0, 1073741824, -2147483648LL, 2147483647})));
  WriteFile(d / "af.wav", Wav(3, 1, 8000, 32, Float32({0.25f, -0.5f, 0.125f, -0.75f})));
  const auto a24 = fas::ReadAudio(d / "a24.wav", {.target_rate = 0});
  ASSERT_EQ(a24.size(), 5u);
  EXPECT_FLOAT_EQ(a24[1], 0.5f);
  EXPECT_FLOAT_EQ(a24[2], -1.0f);
  EXPECT_FLOAT_EQ(a24[4], -1 / 8388608.0f);
  const auto a32 = fas::ReadAudio(d / "a32.wav", {.target_rate = 0});
  ASSERT_EQ(a32.size(), 4u);
  EXPECT_FLOAT_EQ(a32[1], 0.5f);
  EXPECT_FLOAT_EQ(a32[2], -1.0f);
  const auto af = fas::ReadAudio(d / "af.wav", {.target_rate = 0});
  EXPECT_EQ(af, (std::vector<float>{0.25f, -0.5f, 0.125f, -0.75f}));
  EXPECT_EQ(fas::ProbeAudio(d / "a24.wav").format, "WAV PCM_24");
  EXPECT_EQ(fas::ProbeAudio(d / "a32.wav").sample_rate, 48000);
  EXPECT_EQ(fas::ProbeAudio(d / "af.wav").format, "WAV FLOAT");
}

TEST(AudioDecode, StereoIsMixedToMono) {
  TempDir d;
  WriteFile(d / "s.wav", Wav(1, 2, 16000, 16, Pcm16({1000, 3000, -2000, 0, 32767, 32767})));
  const auto x = fas::ReadAudio(d / "s.wav", {.target_rate = 0});
  ASSERT_EQ(x.size(), 3u);
  EXPECT_FLOAT_EQ(x[0], 2000 / 32768.0f);
  EXPECT_FLOAT_EQ(x[1], -1000 / 32768.0f);
  EXPECT_FLOAT_EQ(x[2], 32767 / 32768.0f);

  // Six channels, written through our writer (interleaved), far longer than one internal read block.
  std::vector<float> six(6 * 20000);
  for (size_t i = 0; i < 20000; ++i) {
    for (int c = 0; c < 6; ++c) six[i * 6 + c] = static_cast<float>(c) / 32.0f;  // mean 15/192
  }
  fas::WriteAudio(d / "six.flac", six, 44100, {.channels = 6, .subtype = "PCM_24"});
  const auto m = fas::ReadAudio(d / "six.flac", {.target_rate = 0});
  ASSERT_EQ(m.size(), 20000u);
  EXPECT_NEAR(m[0], 15.0 / 192.0, 1e-6);
  EXPECT_NEAR(m[19999], 15.0 / 192.0, 1e-6);
  EXPECT_EQ(fas::ProbeAudio(d / "six.flac").channels, 6);
}

TEST(AudioDecode, FlacAndWavAtEveryRateRoundTripExactly) {
  TempDir d;
  for (int rate : {8000, 16000, 22050, 44100, 48000}) {
    std::vector<float> x(1000);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i * 37 % 2000) - 1000) / 32768.0f;
    for (const std::string ext : {".wav", ".flac"}) {
      const std::string p = d / ("r" + std::to_string(rate) + ext);
      fas::WriteAudio(p, x, rate);
      const auto info = fas::ProbeAudio(p);
      EXPECT_EQ(info.sample_rate, rate);
      EXPECT_EQ(info.frames, 1000);
      EXPECT_EQ(info.format, ext == ".wav" ? "WAV PCM_16" : "FLAC PCM_16");
      EXPECT_EQ(fas::ReadAudio(p, {.target_rate = 0}), x) << p;
    }
  }
}

TEST(AudioDecode, OggVorbisKeepsToneAndLevel) {
  TempDir d;
  fas::WriteAudio(d / "t.ogg", Sine(440, 0.5, 44100, 1.0), 44100, {.subtype = "VORBIS"});
  const auto info = fas::ProbeAudio(d / "t.ogg");
  EXPECT_EQ(info.format, "OGG VORBIS");
  EXPECT_EQ(info.sample_rate, 44100);
  const auto x = fas::ReadAudio(d / "t.ogg", {.target_rate = 0});
  ASSERT_NEAR(static_cast<double>(x.size()), 44100, 10);
  EXPECT_NEAR(ZeroCrossingFrequency(x, 44100, 4410, 39690), 440.0, 440 * 0.005);
  EXPECT_NEAR(AmplitudeAt(x, 44100, 440, 4410, 39690), 0.5, 0.5 * 0.02);  // lossy codec: 2 %
}

TEST(Resample, SineAt44100To16000KeepsFrequencyAndAmplitude) {
  const auto x = Sine(1000, 0.8, 44100, 1.0);
  const auto y = fas::Resample(x, 44100, 16000);
  ASSERT_EQ(y.size(), 16000u);
  // The middle 0.8 s, away from the filter's edge transients.
  EXPECT_NEAR(ZeroCrossingFrequency(y, 16000, 1600, 14400), 1000.0, 1000 * 0.005);
  EXPECT_NEAR(AmplitudeAt(y, 16000, 1000, 1600, 14400), 0.8, 0.8 * 0.005);
  EXPECT_EQ(fas::Resample(x, 44100, 44100), x);
}

TEST(Resample, ReadAudioResamplesToTheTargetRate) {
  TempDir d;
  fas::WriteAudio(d / "a.flac", Sine(1000, 0.5, 48000, 0.5), 48000);
  const auto y = fas::ReadAudio(d / "a.flac");  // default target 16 kHz
  EXPECT_EQ(y.size(), 8000u);
  EXPECT_NEAR(AmplitudeAt(y, 16000, 1000, 800, 7200), 0.5, 0.5 * 0.005);
}

TEST(AudioRead, OffsetAndDurationReadExactlyThatSpan) {
  TempDir d;
  std::vector<float> x(16000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i % 3000) - 1500) / 32768.0f;
  for (const std::string name : {"ramp.wav", "ramp.flac"}) {
    fas::WriteAudio(d / name, x, 16000);
    const auto y = fas::ReadAudio(d / name, {.target_rate = 16000, .offset = 0.25, .duration = 0.5});
    ASSERT_EQ(y.size(), 8000u) << name;
    EXPECT_TRUE(std::equal(y.begin(), y.end(), x.begin() + 4000)) << name;
    const auto tail = fas::ReadAudio(d / name, {.target_rate = 16000, .offset = 0.75});
    ASSERT_EQ(tail.size(), 4000u);
    EXPECT_EQ(tail.front(), x[12000]);
    EXPECT_EQ(tail.back(), x.back());
    // A span that overruns the end by less than 10 ms (rounded manifest times) is read up to the end.
    EXPECT_EQ(fas::ReadAudio(d / name, {.target_rate = 16000, .offset = 0.75, .duration = 0.255}).size(), 4000u);
  }
  // Offset and duration are in seconds of the file, whatever the target rate.
  fas::WriteAudio(d / "s44.wav", Sine(1000, 0.5, 44100, 2.0), 44100);
  EXPECT_EQ(fas::ReadAudio(d / "s44.wav", {.target_rate = 16000, .offset = 0.5, .duration = 1.0}).size(), 16000u);
}

TEST(AudioRead, SpansOutsideTheFileAreErrors) {
  TempDir d;
  fas::WriteAudio(d / "a.wav", std::vector<float>(16000, 0.1f), 16000);
  EXPECT_NE(ErrorOf<fas::DataError>([&] { fas::ReadAudio(d / "a.wav", {.offset = 1.5}); }).find("past the end"),
            std::string::npos);
  EXPECT_NE(ErrorOf<fas::DataError>([&] {
              fas::ReadAudio(d / "a.wav", {.offset = 0.5, .duration = 0.7});
            }).find("runs past the end"),
            std::string::npos);
  EXPECT_NE(ErrorOf<fas::DataError>([&] { fas::ReadAudio(d / "a.wav", {.max_duration = 0.5}); }).find("limit"),
            std::string::npos);
}

// Found by fuzz_audio: a header claiming 973 MHz (tests/fuzz/corpus/fuzz_audio/crash-soxr-absurd-sample-rate.wav)
// made the resampler's output empty, and soxr crashed on it.
TEST(AudioBadInput, AbsurdSampleRateAndTooShortToResample) {
  TempDir d;
  fas::WriteAudio(d / "a.wav", std::vector<float>(100, 0.1f), 16000);
  std::string bytes = fas::testing::ReadFile(d / "a.wav");
  const uint32_t rate = 973094528;
  bytes.replace(24, 4, reinterpret_cast<const char*>(&rate), 4);
  fas::testing::WriteFile(d / "fast.wav", bytes);
  EXPECT_NE(ErrorOf<fas::IoError>([&] { fas::ReadAudio(d / "fast.wav"); }).find("exceeds the limit of 768000 Hz"),
            std::string::npos);
  EXPECT_TRUE(fas::Resample({0.1f}, 48000, 8000).empty());
  fas::WriteAudio(d / "one.wav", {0.1f}, 48000);
  EXPECT_NE(ErrorOf<fas::DataError>([&] { fas::ReadAudio(d / "one.wav", {.target_rate = 8000}); })
                .find("too short to resample"),
            std::string::npos);
}

TEST(AudioWrite, AtomicAndFormatByExtension) {
  TempDir d;
  fas::WriteAudio(d / "sub/x.wav", {0.1f, 0.2f}, 16000);
  fas::WriteAudio(d / "sub/x.flac", {0.1f, 0.2f}, 16000);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(d / "sub")) {
    ++files;
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  }
  EXPECT_EQ(files, 2);
  EXPECT_NE(ErrorOf<fas::IoError>([&] { fas::WriteAudio(d / "x.mp3", {0.1f}, 16000); }).find("extension"),
            std::string::npos);
  // Out-of-range samples are clipped, not wrapped.
  fas::WriteAudio(d / "clip.wav", {1.5f, -1.5f}, 16000);
  const auto c = fas::ReadAudio(d / "clip.wav", {.target_rate = 0});
  EXPECT_GT(c[0], 0.99f);
  EXPECT_LT(c[1], -0.99f);
}

// ---- bad input: each names the file and the problem ----

TEST(AudioBadInput, MissingFile) {
  TempDir d;
  const auto e = ErrorOf<fas::IoError>([&] { fas::ReadAudio(d / "nope.wav"); });
  EXPECT_NE(e.find("nope.wav"), std::string::npos);
  EXPECT_NE(e.find("not found"), std::string::npos);
}

TEST(AudioBadInput, CorruptBytesAndUnsupportedFormats) {
  TempDir d;
  std::string noise(4096, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 7919 + 13) % 251);
  WriteFile(d / "garbage.wav", noise);
  WriteFile(d / "text.flac", "this is not audio\n");
  // A WAV whose codec tag no decoder knows.
  WriteFile(d / "codec.wav", Wav(0x1234, 1, 16000, 16, Pcm16({1, 2, 3, 4})));
  for (const std::string name : {"garbage.wav", "text.flac", "codec.wav"}) {
    const auto e = ErrorOf<fas::IoError>([&] { fas::ReadAudio(d / name); });
    EXPECT_NE(e.find(name), std::string::npos) << e;
    EXPECT_NE(e.find("cannot decode audio"), std::string::npos) << e;
    EXPECT_NE(ErrorOf<fas::IoError>([&] { fas::ProbeAudio(d / name); }), "(no error)");
  }
}

TEST(AudioBadInput, TruncatedWavAndFlac) {
  TempDir d;
  // The header promises 16000 bytes; 200 arrive.
  WriteFile(d / "cut.wav", Wav(1, 1, 16000, 16, Pcm16(std::vector<int>(100, 7)), 16000));
  auto e = ErrorOf<fas::IoError>([&] { fas::ReadAudio(d / "cut.wav"); });
  EXPECT_NE(e.find("cut.wav"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;

  fas::WriteAudio(d / "full.flac", Sine(440, 0.5, 16000, 2.0), 16000);
  const auto size = std::filesystem::file_size(d / "full.flac");
  std::filesystem::copy_file(d / "full.flac", d / "cut.flac");
  std::filesystem::resize_file(d / "cut.flac", size / 2);
  e = ErrorOf<fas::IoError>([&] { fas::ReadAudio(d / "cut.flac"); });
  EXPECT_NE(e.find("cut.flac"), std::string::npos) << e;
  EXPECT_NE(e.find("decoding failed"), std::string::npos) << e;
}

TEST(AudioBadInput, ZeroLengthAudio) {
  TempDir d;
  WriteFile(d / "empty.wav", Wav(1, 1, 16000, 16, ""));
  const auto e = ErrorOf<fas::DataError>([&] { fas::ReadAudio(d / "empty.wav"); });
  EXPECT_NE(e.find("empty.wav"), std::string::npos) << e;
  EXPECT_NE(e.find("zero-length"), std::string::npos) << e;
  WriteFile(d / "zero_bytes.wav", "");
  EXPECT_NE(ErrorOf<fas::IoError>([&] { fas::ReadAudio(d / "zero_bytes.wav"); }).find("zero_bytes.wav"),
            std::string::npos);
}

TEST(AudioBadInput, NanAndInfSamples) {
  TempDir d;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  WriteFile(d / "nan.wav", Wav(3, 1, 16000, 32, Float32({0.1f, 0.2f, nan, 0.3f})));
  WriteFile(d / "inf.wav", Wav(3, 2, 16000, 32, Float32({0.1f, 0.2f, 0.3f, -inf})));
  auto e = ErrorOf<fas::DataError>([&] { fas::ReadAudio(d / "nan.wav"); });
  EXPECT_NE(e.find("nan.wav"), std::string::npos) << e;
  EXPECT_NE(e.find("NaN sample"), std::string::npos) << e;
  EXPECT_NE(e.find("sample 2"), std::string::npos) << e;
  e = ErrorOf<fas::DataError>([&] { fas::ReadAudio(d / "inf.wav"); });
  EXPECT_NE(e.find("Inf sample"), std::string::npos) << e;
}

}  // namespace
