// Subcommand registry: each file under src/cli/ registers one subcommand; main.cpp only dispatches.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace fas::cli {

// What a subcommand does once its options are parsed.
using RunFn = std::function<void()>;

struct CommandSpec {
  std::string name;
  std::string help;
  // Adds the subcommand's options to `app` and returns what runs it; the closure owns the parsed values.
  std::function<RunFn(CLI::App& app)> setup;
};

bool RegisterCommand(CommandSpec spec);
const std::vector<CommandSpec>& Commands();

// `--device auto|cpu|cuda|cuda:N` on a command that computes (fas/core/device.h); left empty when not given, so
// that the config's `device:` applies.
void AddDeviceOption(CLI::App& app, std::string& device);

// For subcommands with subcommands of their own (`fas tokenizer train`): runs the one that was parsed.
RunFn DispatchNested(CLI::App& app, std::vector<std::pair<CLI::App*, RunFn>> nested);

}  // namespace fas::cli
