// quoted(): a string as a TOML basic string, the way every config error (gwsyncd's [nat] and [lb]
// readers, nat's and the TOML readers' checks) shows a string value. Pure.
#pragma once

#include <string>
#include <string_view>

namespace gwsync::syncd {

// Quotes and backslashes escaped; control characters as \u00XX, since raw they would break the
// one-line error (or the terminal showing it).
std::string quoted(std::string_view text);

}  // namespace gwsync::syncd
