// SIGINT / SIGTERM during training: the handler only raises a flag; the trainer finishes the current step, saves
// `last` and throws fas::Interrupted to the command boundary. A second signal while stopping ends the process at
// once (the default action), so a stuck save can still be killed from the keyboard.
#pragma once

namespace fas {

class StopSignalScope {
 public:
  // Installs the handlers (restoring the previous ones when it goes away) and clears the flag.
  StopSignalScope();
  ~StopSignalScope();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;
};

bool StopRequested();
// The signal that asked to stop (0 when none, or when stopping was requested from code).
int StopSignalNumber();
// Asks the trainer to stop after the current step, as a signal would (tests, an on-step hook).
void RequestStop();
void ClearStopRequest();

}  // namespace fas
