// Internal to config.cc: the [mobility] table (docs/mobility.md).
#pragma once

#include <optional>

#include "syncd/app/config.h"
#include "syncd/app/config_reader.h"

namespace gwsync::syncd::config_detail {

void readMobility(TableReader& r, std::optional<MobilityConfig>& out);

}  // namespace gwsync::syncd::config_detail
