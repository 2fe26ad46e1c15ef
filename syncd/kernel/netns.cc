#include "syncd/kernel/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gwsync::syncd {

Result<NetnsGuard, std::string> NetnsGuard::enter(const std::string& name) {
  if (name.empty()) return NetnsGuard(-1);
  if (name.find('/') != std::string::npos) return fail("netns name '" + name + "' contains '/'");
  const int home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return fail(std::string("open own netns: ") + std::strerror(errno));
  const std::string path = "/run/netns/" + name;
  const int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    const std::string err = std::strerror(errno);
    ::close(home);
    return fail("netns '" + name + "': " + path + ": " + err);
  }
  const int rc = setns(target, CLONE_NEWNET);
  const int saved = errno;
  ::close(target);
  if (rc != 0) {
    ::close(home);
    return fail("netns '" + name + "': setns: " + std::strerror(saved));
  }
  return NetnsGuard(home);
}

NetnsGuard::~NetnsGuard() {
  if (home_fd_ < 0) return;
  if (setns(home_fd_, CLONE_NEWNET) != 0) {
    // Carrying on in the wrong namespace would touch the wrong tables: stop here.
    std::fprintf(stderr, "<2>netns: cannot return to the original namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  ::close(home_fd_);
}

}  // namespace gwsync::syncd
