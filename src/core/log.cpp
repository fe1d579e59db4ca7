#include "fas/core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "fas/core/error.h"

namespace fas {

void InitLogging(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  // from_str falls back to `off` for an unknown name; only "off" itself may mean off.
  if (lvl == spdlog::level::off && level != "off") {
    throw ConfigError("unknown --log-level '" + level + "'; use trace, debug, info, warn, error or off");
  }
  auto logger = spdlog::default_logger();
  if (logger->name() != "fas") {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    logger = std::make_shared<spdlog::logger>("fas", sink);
    logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    spdlog::set_default_logger(logger);
  }
  logger->set_level(lvl);
}

void LogToFile(const std::string& path) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    spdlog::default_logger()->sinks().push_back(sink);
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError("cannot open log file " + path + ": " + e.what());
  }
}

}  // namespace fas
