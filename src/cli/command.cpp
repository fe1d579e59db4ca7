#include "command.h"

#include "fas/core/error.h"

namespace fas::cli {

static std::vector<CommandSpec>& Registry() {
  static std::vector<CommandSpec> commands;
  return commands;
}

bool RegisterCommand(CommandSpec spec) {
  Registry().push_back(std::move(spec));
  return true;
}

const std::vector<CommandSpec>& Commands() { return Registry(); }

void AddDeviceOption(CLI::App& app, std::string& device) {
  app.add_option("--device", device,
                 "where to compute: auto (a GPU when one is visible) | cpu | cuda | cuda:N (default: the config's "
                 "device, else auto)");
}

RunFn DispatchNested(CLI::App& app, std::vector<std::pair<CLI::App*, RunFn>> nested) {
  app.require_subcommand(1);
  return [nested = std::move(nested)] {
    for (const auto& [sub, run] : nested) {
      if (sub->parsed()) return run();
    }
  };
}

}  // namespace fas::cli
