// Prefix: the inside networks whose traffic the SNAT rules translate (nat.inside). The one prefix
// type of the project (syncd/core/prefix.h), shared with the sync filter and mobility, so a
// prefix means the same thing in every section of gwsync.toml.
#pragma once

#include "syncd/core/prefix.h"

namespace gwsync::nat {

using syncd::parsePrefix;
using syncd::Prefix;

}  // namespace gwsync::nat
