#include "fas/engine/stop_signal.h"

#include <csignal>

namespace fas {
namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_signal = 0;

extern "C" void OnStopSignal(int sig) {
  g_signal = sig;
  g_stop = 1;
}

struct sigaction g_old_int, g_old_term;

}  // namespace

StopSignalScope::StopSignalScope() {
  ClearStopRequest();
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // the next identical signal takes the default action
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

StopSignalScope::~StopSignalScope() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

bool StopRequested() { return g_stop != 0; }
int StopSignalNumber() { return static_cast<int>(g_signal); }
void RequestStop() { g_stop = 1; }
void ClearStopRequest() {
  g_stop = 0;
  g_signal = 0;
}

}  // namespace fas
