// `fas config show`: the fully resolved experiment configuration (files merged in order, `extends:` followed,
// --set applied, defaults filled in), bound to the experiment config of its task (ser, asr) so that an unknown key
// is an error.
#include <iostream>

#include "command.h"
#include "fas/tasks/registry.h"

namespace {

fas::cli::RunFn Setup(CLI::App& app) {
  auto show = app.add_subcommand("show", "print the fully resolved experiment config");
  auto files = std::make_shared<std::vector<std::string>>();
  auto sets = std::make_shared<std::vector<std::string>>();
  show->add_option("--config,-c", *files, "config file(s); later files override earlier ones")->required();
  show->add_option("--set", *sets, "override a key: a.b.c=value (wins over files)");
  return fas::cli::DispatchNested(app, {{show, [files, sets] {
                                           std::cout << fas::LoadTask(*files, *sets)->ResolvedConfig();
                                         }}});
}

const bool kRegistered = fas::cli::RegisterCommand({"config", "inspect configurations", Setup});

}  // namespace
