// Lets absl flags (which spell names with underscores) accept the dashed spelling of the CLI
// contract: "--state-dir x" and "--state-dir=x" become "--state_dir ...".
#pragma once

#include <cstring>

namespace sr2 {

// Rewrites, in place, the name part of every "--flag-name[=value]" argument up to a "--".
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

}  // namespace sr2
