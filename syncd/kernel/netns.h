// NetnsGuard: runs the calling thread inside a named network namespace (ip netns add NAME)
// until the guard is destroyed. Sockets opened meanwhile stay in that namespace for good,
// which is how one process talks to the conntrack tables of several namespaces (lab, tests).
#pragma once

#include <string>

#include "syncd/core/result.h"

namespace gwsync::syncd {

class NetnsGuard {
 public:
  // Enters /run/netns/NAME; an empty name stays where the thread is.
  static Result<NetnsGuard, std::string> enter(const std::string& name);
  NetnsGuard(NetnsGuard&& other) noexcept : home_fd_(other.home_fd_) { other.home_fd_ = -1; }
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  ~NetnsGuard();

 private:
  explicit NetnsGuard(int home_fd) : home_fd_(home_fd) {}
  int home_fd_ = -1;  // the namespace to return to; -1 when nothing to undo
};

}  // namespace gwsync::syncd
