// What every sr2 daemon's main() does the same way: command-line parsing with the dashed flag
// spelling of the CLI contract, and stop signals handled on a thread of its choosing.
#pragma once

#include <malloc.h>

#include <climits>
#include <csignal>
#include <cstring>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

namespace sr2 {

// absl flags spell names with underscores; the CLI contract uses dashes. Rewrites, in place,
// the name part of every "--flag-name[=value]" argument up to a "--".
inline void AcceptDashedFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strcmp(arg, "--") == 0) return;
    if (std::strncmp(arg, "--", 2) != 0) continue;
    for (char* p = arg + 2; *p != '\0' && *p != '='; ++p) {
      if (*p == '-') *p = '_';
    }
  }
}

// Sets the usage text and parses the flags (exits with a message on bad flags).
inline void ParseDaemonFlags(int argc, char** argv, const char* usage) {
  absl::SetProgramUsageMessage(usage);
  AcceptDashedFlags(argc, argv);
  absl::ParseCommandLine(argc, argv);
}

// Tuning frees and reallocates the same multi-MB buffers every iteration; with glibc's
// defaults they go back to the kernel each time and page faults cost about a third of the run.
// Keeps them in the heap (mmap only above 32 MB, never trim).
inline void KeepLargeBuffersInHeap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts afterwards, so
// they can be taken synchronously with WaitForStopSignal. Call before starting threads.
inline sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Waits for one of the blocked stop signals and returns it.
inline int WaitForStopSignal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

}  // namespace sr2
