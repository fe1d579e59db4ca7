// Tiny fake copies of each corpus's download, following the real layout exactly (folder names, file names, label
// files, CSV columns), with short generated WAVs. Each builder returns the root the user would pass as --root.
// Shared by tests/unit/data/prepare and tests/integration/prepare.
#pragma once

#include <string>

namespace fas::testing {

// A mono 16 kHz PCM-16 WAV of `seconds` (a quiet tone), written by hand so the tests depend on nothing else.
void WriteWav(const std::string& path, double seconds = 0.2);

// Every builder writes below `dir` and returns the root to prepare.
std::string BuildIemocap(const std::string& dir);
std::string BuildMeld(const std::string& dir);
std::string BuildRavdess(const std::string& dir);
std::string BuildEsd(const std::string& dir);
std::string BuildMosei(const std::string& dir);
std::string BuildMer2024(const std::string& dir);
std::string BuildCase(const std::string& dir);
std::string BuildEmis(const std::string& dir);
std::string BuildEmoEmilia(const std::string& dir);
std::string BuildEmovo(const std::string& dir);
std::string BuildEmodb(const std::string& dir);

}  // namespace fas::testing
