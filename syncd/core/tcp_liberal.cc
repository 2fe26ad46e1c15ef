#include "syncd/core/tcp_liberal.h"

namespace gwsync::syncd {

bool markBeLiberal(Session& s) {
  if (!s.tcp || isBeLiberal(s)) return false;
  s.tcp->flags_orig |= kTcpFlagBeLiberal;
  s.tcp->flags_reply |= kTcpFlagBeLiberal;
  return true;
}

bool isBeLiberal(const Session& s) {
  return s.tcp && (s.tcp->flags_orig & kTcpFlagBeLiberal) != 0 &&
         (s.tcp->flags_reply & kTcpFlagBeLiberal) != 0;
}

size_t markBeLiberal(std::span<Session> sessions) {
  size_t changed = 0;
  for (Session& s : sessions) changed += markBeLiberal(s) ? 1 : 0;
  return changed;
}

}  // namespace gwsync::syncd
