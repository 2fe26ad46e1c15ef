// Full dumps of the kernel's conntrack table (both families, every zone).
// Synchronous: a dump of 100k entries takes ~0.15 s, done at start-up and on resync.
#pragma once

#include <functional>
#include <string>

#include "syncd/core/result.h"
#include "syncd/core/session.h"
#include "syncd/kernel/ct_message.h"

namespace gwsync::syncd {

struct DumpSummary {
  size_t entries = 0;   // delivered to the callback
  size_t rejected = 0;  // unparseable or unsupported, counted by reason in ParseStats
};

// Calls `fn` for every entry. An interrupted dump (the table changed under it in a way the
// kernel could not keep consistent, NLM_F_DUMP_INTR) is an error: the caller dumps again.
Result<DumpSummary, std::string> dumpConntrack(const std::function<void(Session&&)>& fn,
                                               ParseStats& stats);

// Deletes every entry (IPCTNL_MSG_CT_DELETE without a tuple), as `conntrack -F` does.
Result<Ok, std::string> flushConntrack();

}  // namespace gwsync::syncd
