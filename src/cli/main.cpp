// The `fas` binary: runtime set-up first, then dispatch to the registered subcommand. Errors thrown anywhere
// below are reported here, once, as one `error: ...` line.
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "command.h"
#include "fas/core/error.h"
#include "fas/core/log.h"
#include "fas/core/runtime.h"

#ifndef FAS_VERSION
#define FAS_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  // The allocator fix must precede the first large allocation (docs/design.md, "The machine, measured": page faults).
  fas::InitRuntime({});

  CLI::App app{"FAS: speech emotion recognition that stays right when tone and words disagree", "fas"};
  app.set_version_flag("--version", std::string("fas ") + FAS_VERSION);
  app.require_subcommand(1);
  int threads = 0;
  std::string log_level = "info";
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");

  std::map<CLI::App*, fas::cli::RunFn> runs;
  for (const auto& spec : fas::cli::Commands()) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.help);
    // Global options are accepted after the subcommand name too (`fas train --threads 1 ...`).
    sub->add_option("--threads", threads, "intra-op threads (default: all cores)")->check(CLI::NonNegativeNumber);
    sub->add_option("--log-level", log_level, "trace, debug, info, warn, error or off");
    runs[sub] = spec.setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see fas --help)\n", e.what());
    return 1;
  }

  try {
    fas::InitLogging(log_level);
    fas::InitRuntime({threads});
    for (CLI::App* sub : app.get_subcommands()) runs.at(sub)();
    return 0;
  } catch (const fas::Interrupted& e) {
    spdlog::warn("{}", e.what());
    return 130;
  } catch (const fas::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A file-system call the library made without an error code (a read-only or full disk, a missing folder):
    // the user's environment, not a bug.
    std::string what = e.what();
    const std::string prefix = "filesystem error: ";
    if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
    std::fprintf(stderr, "error: %s\n", what.c_str());
    return 1;
  } catch (const c10::Error& e) {
    // A LibTorch check failed: our own validation should have caught the input first. Report it without the
    // C++ backtrace LibTorch attaches.
    std::fprintf(stderr, "error: internal: %s\n", e.what_without_backtrace());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal: %s\n", e.what());
    return 2;
  }
}
