// Logging to stderr with journald priority prefixes (<3> error ... <7> debug), one line each.
// Rate-limited variants keep a per-flow problem from flooding the journal.
#pragma once

#include <chrono>
#include <cstdio>
#include <utility>

namespace gwsync::syncd {

enum class Prio : int { kErr = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

template <class... Args>
void logLine(Prio prio, const char* fmt, Args&&... args) {
  std::fprintf(stderr, "<%d>", static_cast<int>(prio));
  if constexpr (sizeof...(Args) == 0) {
    std::fputs(fmt, stderr);
  } else {
    std::fprintf(stderr, fmt, std::forward<Args>(args)...);
  }
  std::fputc('\n', stderr);
}

// Lets through at most `burst` lines per `period`; counts what it held back.
class RateLimit {
 public:
  RateLimit(int burst, std::chrono::seconds period) : burst_(burst), period_(period) {}
  bool allow() {
    const auto now = std::chrono::steady_clock::now();
    if (now - start_ >= period_) {
      start_ = now;
      used_ = 0;
    }
    if (used_ < burst_) {
      ++used_;
      return true;
    }
    ++suppressed_;
    return false;
  }
  unsigned long long suppressed() const { return suppressed_; }

 private:
  int burst_;
  std::chrono::seconds period_;
  std::chrono::steady_clock::time_point start_{};
  int used_ = 0;
  unsigned long long suppressed_ = 0;
};

}  // namespace gwsync::syncd
