// Namespaces for netns tests: every namespace carries the run's prefix (GWSYNC_NETNS_PREFIX, set
// by run-netns-test.sh, whose trap removes leftovers even if this process dies) and is deleted
// when the Lab goes out of scope.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace gwsync::test {

class Lab {
 public:
  Lab();
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  // Creates a namespace and returns its full name.
  std::string add(const std::string& name);
  // Runs a shell command; fails the test (and returns false) on a non-zero exit.
  bool run(const std::string& cmd);
  // Runs a shell command and returns its stdout.
  std::string output(const std::string& cmd);
  // `ip netns exec NS` prefix for commands.
  static std::string in(const std::string& ns) { return "ip netns exec " + ns + " "; }

  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
  std::vector<std::string> namespaces_;
};

// Opens a socket inside a namespace; it stays there when the thread leaves.
int socketIn(const std::string& ns, int domain, int type);

// Polls `done` every few milliseconds, running `step` in between, until it holds or the
// deadline passes.
bool pollUntil(const std::function<bool()>& done, const std::function<void()>& step,
               std::chrono::milliseconds deadline);

bool isRoot();

}  // namespace gwsync::test
