// parseTomlFile: a whole TOML file read (at most 1 MiB: anything larger is not a config) and
// parsed, for the command-line checkers gwsync-nat and gwsync-lb. Every failure is one line
// naming the file: "PATH: cannot open", "PATH:LINE:COLUMN: syntax error: ...".
#pragma once

#include <toml++/toml.h>

#include <string>

#include "syncd/core/result.h"

namespace gwsync::syncd {

Result<toml::table, std::string> parseTomlFile(const std::string& path);

}  // namespace gwsync::syncd
