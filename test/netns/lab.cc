#include "test/netns/lab.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "syncd/kernel/netns.h"

namespace gwsync::test {

Lab::Lab() {
  if (const char* p = std::getenv("GWSYNC_NETNS_PREFIX"); p != nullptr && *p != '\0') {
    prefix_ = p;
  } else {
    prefix_ = "gwst" + std::to_string(getpid()) + "x" + std::to_string(std::random_device{}() % 10000) + "-";
  }
  static int serial = 0;
  prefix_ += std::to_string(serial++) + "-";
}

Lab::~Lab() {
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    const std::string cmd = "ip netns del " + *it + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "lab: could not delete %s\n", it->c_str());
  }
}

std::string Lab::add(const std::string& name) {
  const std::string full = prefix_ + name;
  if (!run("ip netns add " + full)) return full;
  namespaces_.push_back(full);
  run("ip -n " + full + " link set lo up");
  return full;
}

bool Lab::run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << "command failed: " << cmd;
  return rc == 0;
}

std::string Lab::output(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen failed: " << cmd;
    return out;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << "command failed: " << cmd;
  return out;
}

int socketIn(const std::string& ns, int domain, int type) {
  auto guard = syncd::NetnsGuard::enter(ns);
  if (!guard) {
    ADD_FAILURE() << guard.error();
    return -1;
  }
  return ::socket(domain, type | SOCK_CLOEXEC, 0);
}

bool pollUntil(const std::function<bool()>& done, const std::function<void()>& step,
               std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    if (step) {
      step();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

bool isRoot() { return geteuid() == 0; }

}  // namespace gwsync::test
