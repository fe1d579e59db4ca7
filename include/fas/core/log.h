// Logging through spdlog: to stderr always, and to a file in the run directory once one is known.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace fas {

// Sets up the default logger on stderr at `level` (trace, debug, info, warn, error, off). Throws ConfigError on
// an unknown level.
void InitLogging(const std::string& level);

// Adds a file sink (appending) so the run directory keeps the log of everything that follows.
void LogToFile(const std::string& path);

}  // namespace fas
