// gwsync-bench-load: the load generator of the side-by-side sync benchmark (sync_bench.sh).
//
//   inject --netns NS --count N [--first K] [--delete]
//       creates (or deletes) N established TCP sessions with SNAT through the batched netlink
//       writer, like `gwsync-ct inject`, but with tuples that stay distinct beyond 64000
//       sessions (gwsync-ct's session i and i+64000 share a reply tuple, so the kernel refuses
//       the second one and a table never holds more than 64000 of them).
//   lag --from NS --to NS [--rate R] [--seconds S] [--batch-ms M] [--first K]
//       creates R sessions/s in NS --from on a fixed schedule (a batch every M ms) from a
//       writer thread, while the main thread listens to NS --to's conntrack events and notes
//       when each session first appears there (the replicating daemon's write). A session's
//       lag is that moment minus the start of its batch's write, so it includes the local insert
//       (about 1 ms for a batch of 500). Percentiles are over every session.
//
// Session i: 192.0.2.(1 + i % 250):(1024 + i % 64000) -> 203.0.113.(1 + i / 64000 % 250):443,
// SNATed to 198.51.100.100 on the same port: distinct original and reply tuples for i < 16M.
// Both commands exit 1 rather than print a figure from an incomplete run; lag exits 3 when every
// session arrived but the writer fell behind its schedule (the load was not steady).
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "syncd/cli/command_line.h"
#include "syncd/kernel/ct_events.h"
#include "syncd/kernel/ct_writer.h"
#include "syncd/kernel/netns.h"

namespace {

using namespace gwsync::syncd;  // NOLINT(google-build-using-namespace): one-file program
using Clock = std::chrono::steady_clock;

constexpr long kMaxSessions = 16000000;
// A batch this far behind its schedule counts as late; more than 1 % late batches and the load
// was not the steady one asked for.
constexpr auto kLate = std::chrono::milliseconds(10);
constexpr int kExitOffSchedule = 3;

constexpr const char* kUsage =
    "usage: gwsync-bench-load inject --netns NS --count N [--first K] [--delete]\n"
    "       gwsync-bench-load lag --from NS --to NS [--rate N] [--seconds S] [--batch-ms M]\n"
    "                             [--first K] [--deadline-ms D] [--profile FILE]\n"
    "inject prints: created N of N sessions in T s (R/s)\n"
    "lag prints:    RESULT p50_ms=.. p99_ms=.. max_ms=.. sessions=.. rate=.. late_batches=..\n"
    "               write_ms=.. (a batch's local write, median: part of every lag)\n"
    "               --profile FILE: one line per batch: its start (ms) and its sessions'\n"
    "               slowest lag (ms), to see whether lag is steady, periodic or growing\n";

struct Args {
  std::string cmd;
  std::string netns;  // inject
  std::string from;   // lag
  std::string to;
  std::string profile;
  long count = -1;
  long first = 0;
  bool remove = false;
  long rate = 50000;
  long seconds = 3;
  long batch_ms = 10;
  long deadline_ms = 30000;  // after the last batch
};

constexpr CommandLine kCli("gwsync-bench-load", kUsage);

Args parseArgs(int argc, char** argv) {
  Args a;
  a.cmd = kCli.command(argc, argv);
  kCli.forEachOption(argc, argv, {"--delete"}, [&a](const std::string& opt, const std::string& v) {
    if (opt == "--delete") {
      a.remove = true;
    } else if (opt == "--netns") {
      a.netns = v;
    } else if (opt == "--from") {
      a.from = v;
    } else if (opt == "--to") {
      a.to = v;
    } else if (opt == "--count") {
      a.count = kCli.number(opt, v, 0, 4000000);
    } else if (opt == "--first") {
      a.first = kCli.number(opt, v, 0, 8000000);
    } else if (opt == "--rate") {
      a.rate = kCli.number(opt, v, 100, 1000000);
    } else if (opt == "--seconds") {
      a.seconds = kCli.number(opt, v, 1, 600);
    } else if (opt == "--batch-ms") {
      a.batch_ms = kCli.number(opt, v, 1, 1000);
    } else if (opt == "--profile") {
      a.profile = v;
    } else if (opt == "--deadline-ms") {
      a.deadline_ms = kCli.number(opt, v, 100, 600000);
    } else {
      kCli.usageError("unknown option " + opt);
    }
  });
  if (a.cmd == "inject" && a.count < 0) kCli.usageError("inject needs --count");
  if (a.cmd == "lag" && (a.from.empty() || a.to.empty())) {
    kCli.usageError("lag needs --from and --to");
  }
  if (a.cmd != "inject" && a.cmd != "lag") kCli.usageError("unknown command " + a.cmd);
  return a;
}

Session synthetic(long i) {
  const auto u = static_cast<uint32_t>(i);
  Session s;
  s.orig.proto = l4::kTcp;
  s.orig.src = IpAddress::v4(192, 0, 2, static_cast<uint8_t>(1 + u % 250));
  s.orig.dst = IpAddress::v4(203, 0, 113, static_cast<uint8_t>(1 + (u / 64000) % 250));
  s.orig.src_port = static_cast<uint16_t>(1024 + u % 64000);
  s.orig.dst_port = 443;
  s.reply = invert(s.orig);
  s.reply.dst = IpAddress::v4(198, 51, 100, 100);
  s.status = status::kSeenReply | status::kAssured;
  s.timeout = 3600;
  s.tcp = TcpInfo{.state = 3};  // ESTABLISHED
  return s;
}

// The inverse of synthetic(), or -1 for an entry that is not part of the load.
long numberOf(const Session& s) {
  const auto& src = s.orig.src.bytes;
  const auto& dst = s.orig.dst.bytes;
  if (s.orig.src.family != Family::kIpv4 || s.orig.proto != l4::kTcp || src[0] != 192 ||
      src[1] != 0 || src[2] != 2 || dst[0] != 203 || dst[1] != 0 || dst[2] != 113 ||
      s.orig.dst_port != 443 || s.orig.src_port < 1024 || dst[3] == 0 || dst[3] > 250) {
    return -1;
  }
  const long i = static_cast<long>(dst[3] - 1) * 64000 + (s.orig.src_port - 1024);
  return src[3] == 1 + i % 250 ? i : -1;
}

ConntrackWriter openWriter(const std::string& netns) {
  auto guard = NetnsGuard::enter(netns);
  if (!guard) kCli.die(guard.error());
  auto w = ConntrackWriter::open({});
  if (!w) kCli.die(w.error());
  return std::move(w).value();
}

int inject(const Args& a) {
  if (a.first + a.count > kMaxSessions) kCli.die("--first + --count must stay below 16000000");
  auto writer = openWriter(a.netns);
  std::vector<Session> sessions;
  sessions.reserve(static_cast<size_t>(a.count));
  for (long i = a.first; i < a.first + a.count; ++i) sessions.push_back(synthetic(i));
  std::vector<CtWrite> writes;
  writes.reserve(sessions.size());
  for (const auto& s : sessions) writes.push_back({a.remove ? CtOp::kDelete : CtOp::kCreate, &s});
  const auto t0 = Clock::now();
  const auto results = writer.apply(writes);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  size_t failed = 0;
  for (const auto& r : results) failed += r.error != 0;
  std::printf("%s %zu of %zu sessions in %.3f s (%.0f/s)\n", a.remove ? "deleted" : "created",
              sessions.size() - failed, sessions.size(), secs,
              secs > 0 ? static_cast<double>(sessions.size()) / secs : 0.0);
  return failed == 0 ? 0 : 1;
}

double percentile(const std::vector<double>& sorted, double p) {
  const auto idx = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)];
}

void writeProfile(const std::string& path, const std::vector<Clock::time_point>& started,
                  const std::vector<double>& lag_ms, long per_batch) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) kCli.die("cannot write " + path);
  for (size_t b = 0; b < started.size(); ++b) {
    const auto first = lag_ms.begin() + static_cast<long>(b) * per_batch;
    std::fprintf(f, "%.3f %.3f\n",
                 std::chrono::duration<double, std::milli>(started[b] - started[0]).count(),
                 *std::max_element(first, first + per_batch));
  }
  std::fclose(f);
}

int lag(const Args& a) {
  const long per_batch = std::max(1L, a.rate * a.batch_ms / 1000);
  const long batches = a.seconds * 1000 / a.batch_ms;
  const long total = per_batch * batches;
  if (a.first + total > kMaxSessions) kCli.die("--first plus the sessions must stay below 16000000");

  boost::asio::io_context io;
  boost::asio::steady_timer deadline(io);
  std::vector<Clock::time_point> arrival(static_cast<size_t>(total));
  long seen = 0;
  std::unique_ptr<ConntrackEventSource> events;
  {
    auto guard = NetnsGuard::enter(a.to);
    if (!guard) kCli.die(guard.error());
    ConntrackEventSource::Handlers handlers;
    handlers.on_events = [&](std::span<const CtEvent> batch) {
      const auto now = Clock::now();
      for (const auto& e : batch) {
        if (e.type == CtEventType::kDestroy) continue;
        const long n = numberOf(e.session) - a.first;
        if (n < 0 || n >= total) continue;
        auto& slot = arrival[static_cast<size_t>(n)];
        if (slot != Clock::time_point{}) continue;
        slot = now;
        if (++seen == total) {
          // Not events->stop() here: the source re-arms after this handler returns.
          boost::asio::post(io, [&] { events->stop(); });
          deadline.cancel();
        }
      }
    };
    handlers.on_overrun = [] { kCli.die("the listener lost events (ENOBUFS): no figure"); };
    ConntrackEventSource::Options options;
    options.receive_buffer = 256 * 1024 * 1024;  // a burst must not cost the measurement
    auto src = ConntrackEventSource::open(io, options, std::move(handlers));
    if (!src) kCli.die(src.error());
    events = std::move(src).value();
  }
  auto writer = openWriter(a.from);
  std::vector<Session> sessions;
  sessions.reserve(static_cast<size_t>(total));
  for (long i = 0; i < total; ++i) sessions.push_back(synthetic(a.first + i));
  std::vector<Clock::time_point> started(static_cast<size_t>(batches));
  std::vector<double> write_ms(static_cast<size_t>(batches));
  long late = 0;
  size_t failed = 0;

  events->start();
  const auto t0 = Clock::now() + std::chrono::milliseconds(20);
  const auto period = std::chrono::milliseconds(a.batch_ms);
  std::thread sender([&] {
    std::vector<CtWrite> writes(static_cast<size_t>(per_batch));
    for (long b = 0; b < batches; ++b) {
      const auto due = t0 + b * period;
      std::this_thread::sleep_until(due);
      const auto now = Clock::now();
      if (now - due > kLate) ++late;
      for (long k = 0; k < per_batch; ++k) {
        writes[static_cast<size_t>(k)] = {CtOp::kCreate,
                                          &sessions[static_cast<size_t>(b * per_batch + k)]};
      }
      started[static_cast<size_t>(b)] = now;
      for (const auto& r : writer.apply(writes)) failed += r.error != 0;
      write_ms[static_cast<size_t>(b)] =
          std::chrono::duration<double, std::milli>(Clock::now() - now).count();
    }
  });
  deadline.expires_at(t0 + batches * period + std::chrono::milliseconds(a.deadline_ms));
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (!ec) events->stop();
  });
  io.run();
  sender.join();

  if (failed != 0) kCli.die(std::to_string(failed) + " local creates failed");
  if (seen != total) {
    kCli.die("only " + std::to_string(seen) + " of " + std::to_string(total) +
        " sessions appeared at the far end within " + std::to_string(a.deadline_ms) +
        " ms of the last batch: no figure");
  }
  std::vector<double> lag_ms(static_cast<size_t>(total));
  for (long i = 0; i < total; ++i) {
    const auto& t = started[static_cast<size_t>(i / per_batch)];
    lag_ms[static_cast<size_t>(i)] =
        std::chrono::duration<double, std::milli>(arrival[static_cast<size_t>(i)] - t).count();
  }
  if (!a.profile.empty()) writeProfile(a.profile, started, lag_ms, per_batch);
  std::sort(lag_ms.begin(), lag_ms.end());
  const double span = std::chrono::duration<double>(started.back() - started.front()).count() +
                      static_cast<double>(a.batch_ms) / 1000.0;
  const double rate = static_cast<double>(total) / span;
  std::sort(write_ms.begin(), write_ms.end());
  std::printf("%ld sessions in %ld batches of %ld every %ld ms (%.0f/s achieved), "
              "%ld batches more than 10 ms late, a batch's write took %.2f ms (median)\n",
              total, batches, per_batch, a.batch_ms, rate, late, percentile(write_ms, 0.5));
  std::printf("RESULT p50_ms=%.3f p99_ms=%.3f max_ms=%.3f sessions=%ld rate=%.0f late_batches=%ld "
              "write_ms=%.3f\n",
              percentile(lag_ms, 0.50), percentile(lag_ms, 0.99), lag_ms.back(), total, rate,
              late, percentile(write_ms, 0.5));
  if (late * 100 > batches) {
    // Not the steady load that was asked for (a busy machine): the caller drops the figure.
    std::fprintf(stderr, "gwsync-bench-load: the writer could not keep the schedule: no figure\n");
    return kExitOffSchedule;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  return a.cmd == "inject" ? inject(a) : lag(a);
}
