// Fuzz target: what the kernel (or anything on a netlink socket) sends, into the ctnetlink
// parser. Any bytes must parse into a session or be rejected with a reason, never read outside
// the message.
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <vector>

#include "syncd/kernel/ct_message.h"

namespace gs = gwsync::syncd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < sizeof(nlmsghdr)) return 0;
  // A copy of exactly the input, aligned, with nlmsg_len clamped to what is really there.
  std::vector<uint32_t> buf(size / 4 + 1);
  std::copy(data, data + size, reinterpret_cast<uint8_t*>(buf.data()));
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  if (nlh->nlmsg_len > size || nlh->nlmsg_len < sizeof(nlmsghdr)) {
    nlh->nlmsg_len = static_cast<uint32_t>(size);
  }
  gs::ParseStats stats;
  auto s = gs::parseConntrack(nlh, stats);
  if (s.ok()) (void)gs::describe(*s);
  return 0;
}
