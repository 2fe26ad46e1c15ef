// gwsync-ct: the conntrack adapter from the command line. Lists a namespace's table, follows
// its events, and copies one namespace's table into another through the batched writer: the
// smallest real use of the adapter, and what the lab uses before the sync engine takes over.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "syncd/cli/command_line.h"
#include "syncd/kernel/ct_dump.h"
#include "syncd/kernel/ct_events.h"
#include "syncd/kernel/ct_writer.h"
#include "syncd/kernel/netns.h"

namespace gs = gwsync::syncd;

namespace {

constexpr const char* kUsage =
    "usage: gwsync-ct dump   [--netns NAME] [--strip-mark HEX]\n"
    "       gwsync-ct watch  [--netns NAME] [--seconds N]\n"
    "       gwsync-ct copy   --from NAME --to NAME\n"
    "       gwsync-ct inject [--netns NAME] --count N [--first K] [--delete]\n"
    "dump:   print every conntrack entry, one normalised line each (--strip-mark clears those\n"
    "        mark bits first, e.g. 0x80000000, gwsyncd's bit for the peer's copies)\n"
    "watch:  print conntrack events as they happen (default 10 s)\n"
    "copy:   write every entry of one namespace's table into another's, NAT included\n"
    "inject: create (or --delete) N synthetic established TCP sessions with SNAT, numbered\n"
    "        from K (K + N <= 16000000): 192.0.2.0/24 -> 203.0.113.0/24 translated to\n"
    "        198.51.100.100, as a\n"
    "        gateway's traffic would; a load generator for tests and benchmarks\n";

struct Args {
  std::string cmd;
  std::string netns;
  std::string from;
  std::string to;
  int seconds = 10;
  uint32_t strip_mark = 0;
  long count = -1;
  long first = 0;
  bool remove = false;
};

constexpr gs::CommandLine kCli("gwsync-ct", kUsage);

Args parseArgs(int argc, char** argv) {
  Args a;
  a.cmd = kCli.command(argc, argv);
  kCli.forEachOption(
      argc, argv, {"--delete"}, [&a](const std::string& opt, const std::string& val) {
        if (opt == "--delete") {
          a.remove = true;
        } else if (opt == "--netns") {
          a.netns = val;
        } else if (opt == "--from") {
          a.from = val;
        } else if (opt == "--to") {
          a.to = val;
        } else if (opt == "--seconds") {
          a.seconds = static_cast<int>(kCli.number(opt, val, 1, 86400));
        } else if (opt == "--strip-mark") {
          a.strip_mark = static_cast<uint32_t>(kCli.number(opt, val, 0, 0xffffffffL, 16));
        } else if (opt == "--count") {
          a.count = kCli.number(opt, val, 0, 250 * 64000);
        } else if (opt == "--first") {
          a.first = kCli.number(opt, val, 0, 250 * 64000);
        } else {
          kCli.usageError("unknown option " + opt);
        }
      });
  if (a.cmd != "dump" && a.cmd != "watch" && a.cmd != "copy" && a.cmd != "inject") {
    kCli.usageError("unknown command " + a.cmd);
  }
  if (a.cmd == "inject" && a.count < 0) kCli.usageError("inject needs --count");
  if (a.cmd == "copy" && (a.from.empty() || a.to.empty())) {
    kCli.usageError("copy needs --from and --to");
  }
  return a;
}

template <class T>
T orDie(gs::Result<T, std::string> r) {
  if (!r) kCli.die(r.error());
  return std::move(r).value();
}

void reportParse(const gs::ParseStats& st) {
  for (size_t i = 0; i < st.errors.size(); ++i) {
    if (st.errors[i] == 0) continue;
    std::fprintf(stderr, "gwsync-ct: skipped %llu entries: %s\n",
                 static_cast<unsigned long long>(st.errors[i]),
                 std::string(gs::parseErrorName(static_cast<gs::ParseError>(i))).c_str());
  }
}

int dump(const Args& a) {
  auto ns = orDie(gs::NetnsGuard::enter(a.netns));
  gs::ParseStats st;
  auto sum = orDie(gs::dumpConntrack(
      [&a](gs::Session&& s) {
        s.mark &= ~a.strip_mark;
        std::printf("%s\n", gs::describe(s).c_str());
      },
      st));
  reportParse(st);
  std::fprintf(stderr, "gwsync-ct: %zu entries\n", sum.entries);
  return 0;
}

int watch(const Args& a) {
  auto ns = orDie(gs::NetnsGuard::enter(a.netns));
  boost::asio::io_context io;
  auto src = orDie(gs::ConntrackEventSource::open(
      io, {},
      {.on_events =
           [](std::span<const gs::CtEvent> events) {
             static const char* kNames[] = {"NEW", "UPDATE", "DESTROY"};
             for (const auto& e : events) {
               std::printf("%-7s %s\n", kNames[static_cast<int>(e.type)],
                           gs::describe(e.session).c_str());
             }
             std::fflush(stdout);
           },
       .on_overrun = [] { std::fprintf(stderr, "gwsync-ct: events lost (ENOBUFS)\n"); }}));
  src->start();
  boost::asio::steady_timer timer(io, std::chrono::seconds(a.seconds));
  timer.async_wait([&](const boost::system::error_code&) { src->stop(); });
  io.run();
  reportParse(src->stats().parse);
  return 0;
}

int copy(const Args& a) {
  std::vector<gs::Session> sessions;
  gs::ParseStats st;
  {
    auto ns = orDie(gs::NetnsGuard::enter(a.from));
    orDie(gs::dumpConntrack([&](gs::Session&& s) { sessions.push_back(std::move(s)); }, st));
  }
  reportParse(st);
  auto ns = orDie(gs::NetnsGuard::enter(a.to));
  auto writer = orDie(gs::ConntrackWriter::open({}));
  std::vector<gs::CtWrite> writes;
  writes.reserve(sessions.size());
  for (const auto& s : sessions) writes.push_back({gs::CtOp::kCreate, &s});
  const auto results = writer.apply(writes);
  size_t failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].error == 0) continue;
    if (++failed <= 5) {
      std::fprintf(stderr, "gwsync-ct: %s failed: %s: %s\n",
                   std::string(gs::opName(results[i].done)).c_str(),
                   std::strerror(results[i].error), gs::describe(sessions[i]).c_str());
    }
  }
  const auto& ws = writer.stats();
  std::printf("copied %zu of %zu entries from %s to %s (%llu batches, %llu updated in place)\n",
              sessions.size() - failed, sessions.size(), a.from.c_str(), a.to.c_str(),
              static_cast<unsigned long long>(ws.batches),
              static_cast<unsigned long long>(ws.exists_to_update));
  return failed == 0 ? 0 : 1;
}

// Session number i of the synthetic load: distinct original and translated tuples for up to
// 4 million sessions. Each block of 64000 uses its own client and server address; the
// translated port repeats across blocks, so the server address must differ to keep the reply
// tuples (server -> 198.51.100.100:port) unique.
gs::Session synthetic(long i) {
  const auto u = static_cast<uint32_t>(i);
  const uint32_t block = u / 64000;
  gs::Session s;
  s.orig.proto = s.reply.proto = gs::l4::kTcp;
  s.orig.src = gs::IpAddress::v4(192, 0, 2, static_cast<uint8_t>(1 + block % 250));
  s.orig.dst = gs::IpAddress::v4(203, 0, 113, static_cast<uint8_t>(1 + block % 250));
  s.orig.src_port = static_cast<uint16_t>(1024 + u % 64000);
  s.orig.dst_port = 443;
  s.reply = gs::invert(s.orig);
  s.reply.dst = gs::IpAddress::v4(198, 51, 100, 100);
  s.status = gs::status::kSeenReply | gs::status::kAssured;
  s.timeout = 3600;
  s.tcp = gs::TcpInfo{.state = 3};  // ESTABLISHED
  return s;
}

int inject(const Args& a) {
  auto ns = orDie(gs::NetnsGuard::enter(a.netns));
  auto writer = orDie(gs::ConntrackWriter::open({}));
  std::vector<gs::Session> sessions;
  sessions.reserve(static_cast<size_t>(a.count));
  for (long i = a.first; i < a.first + a.count; ++i) sessions.push_back(synthetic(i));
  std::vector<gs::CtWrite> writes;
  writes.reserve(sessions.size());
  const gs::CtOp op = a.remove ? gs::CtOp::kDelete : gs::CtOp::kCreate;
  for (const auto& s : sessions) writes.push_back({op, &s});
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = writer.apply(writes);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t failed = 0;
  for (const auto& r : results) failed += r.error != 0;
  std::printf("%s %zu of %zu sessions in %.3f s (%.0f/s)\n", a.remove ? "deleted" : "created",
              sessions.size() - failed, sessions.size(), secs,
              secs > 0 ? static_cast<double>(sessions.size()) / secs : 0.0);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  if (a.cmd == "dump") return dump(a);
  if (a.cmd == "watch") return watch(a);
  if (a.cmd == "inject") return inject(a);
  return copy(a);
}
