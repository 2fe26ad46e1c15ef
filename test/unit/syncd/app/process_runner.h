// Runs a program to completion with its output captured, for tests that check a CLI's exit status
// and messages.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace gwsync::syncd::test {

struct ProcessResult {
  int exit_code = -1;  // -1 if it did not exit normally
  std::string out;
  std::string err;
};

// argv[0] is the path. The child gets this process's environment without GWSYNC_* variables (so
// a developer's shell does not change the outcome) plus `env` ("NAME=value"). With run_as, the
// child drops to that uid and gid before exec (needs root).
ProcessResult runProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         std::optional<uid_t> run_as = std::nullopt);

}  // namespace gwsync::syncd::test
