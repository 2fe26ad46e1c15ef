// Reads the [lb] table of gwsync.toml with toml++ into an LbSpec and validates it
// (buildLbConfig). Its own small library (gwsync_lb_config) so the pure model stays free of
// toml++; gwsyncd's config reader calls readLbConfig() with the parsed [lb] table, gwsync-lb
// calls loadLbFile(). Unknown keys are rejected, every error names its key and value.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "lb/lb_spec.h"
#include "syncd/core/result.h"

namespace gwsync::lb {

// lb: the [lb] table, or null when the file has none (an empty LbConfig).
LbResult readLbConfig(const toml::table* lb);

// The [lb] table of a whole gwsync.toml, for gwsync-lb (the other tables are gwsyncd
// --check-config's to judge). File and syntax errors come as one LbError with an empty key.
LbResult loadLbFile(const std::string& path);

}  // namespace gwsync::lb
