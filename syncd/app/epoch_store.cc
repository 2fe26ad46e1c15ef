#include "syncd/app/epoch_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gwsync::syncd {

namespace {

std::string sysError(const std::string& what) { return what + ": " + std::strerror(errno); }

Result<uint64_t, std::string> readEpoch(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return uint64_t{0};
    return fail(sysError(path));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return fail(path + ": not an epoch number: '" + text.substr(0, 32) + "'");
  }
  return value;
}

Result<Ok, std::string> writeAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(sysError(tmp));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const std::string err = ok ? "" : sysError(tmp);
  ::close(fd);
  if (!ok) return fail(err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(sysError("rename " + tmp));
  return Ok{};
}

}  // namespace

Result<uint64_t, std::string> bumpEpoch(const std::string& state_dir) {
  const std::string path = state_dir + "/epoch";
  auto current = readEpoch(path);
  if (!current) return fail(current.error());
  // Never below the wall clock's seconds: a state directory restored from an older copy (or
  // lost) would otherwise give an epoch the peer already followed or passed, and the peer would
  // ignore the new stream as a stale one and keep sessions deleted here meanwhile.
  const auto wall = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const auto floor = static_cast<uint64_t>(std::max<int64_t>(wall.count(), 0));
  const uint64_t next = std::max(*current + 1, floor);
  if (next > kMaxEpoch) {
    return fail(path + ": epoch " + std::to_string(*current) + " is too large (the largest is " +
                std::to_string(kMaxEpoch) + ")");
  }
  if (auto r = writeAtomically(path, std::to_string(next) + "\n"); !r) return fail(r.error());
  return next;
}

}  // namespace gwsync::syncd
